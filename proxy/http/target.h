// The request target's path, normalised before anything matches on it
// (RFC 3986 §6.2.2), so that /a/../admin, /%61dmin and //admin are all seen
// as /admin by routing and by the backend alike.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wsedge::http {

/// The value of one hex digit, either case; -1 if c is not one.
constexpr int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Normalises an absolute path: percent-encoded unreserved characters are
/// decoded (%61 -> a, %2e -> .) and other escapes get upper-case hex, dot
/// segments are removed and repeated slashes merged; a trailing slash
/// stays. Empty when the path must be refused: an encoded slash, backslash
/// or NUL (%2F, %5C, %00 in either case), a literal backslash, a malformed
/// escape, or a dot segment that climbs above the root.
std::optional<std::string> normalizePath(std::string_view path);

}  // namespace wsedge::http
