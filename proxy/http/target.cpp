#include "proxy/http/target.h"

#include <vector>

namespace wsedge::http {
namespace {

bool isUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Decodes what may be decoded; empty if an escape is refused.
std::optional<std::string> decodeUnreserved(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '\\') return std::nullopt;
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (i + 2 >= path.size()) return std::nullopt;
    const int hi = hexValue(path[i + 1]);
    const int lo = hexValue(path[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const auto b = static_cast<unsigned char>(hi * 16 + lo);
    // What would change the path's structure, or end it, if decoded.
    if (b == '/' || b == '\\' || b == 0) return std::nullopt;
    if (isUnreserved(b)) {
      out.push_back(static_cast<char>(b));
    } else {
      out.push_back('%');
      out.push_back(kHex[hi]);
      out.push_back(kHex[lo]);
    }
    i += 2;
  }
  return out;
}

}  // namespace

std::optional<std::string> normalizePath(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  const std::optional<std::string> decoded = decodeUnreserved(path);
  if (!decoded) return std::nullopt;
  std::vector<std::string_view> segments;
  std::string_view rest = *decoded;
  bool trailingSlash = false;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    trailingSlash = rest.empty() && (segment.empty() || segment == "." || segment == "..");
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (segments.empty()) return std::nullopt;  // above the root
      segments.pop_back();
      continue;
    }
    segments.push_back(segment);
  }
  std::string out;
  out.reserve(decoded->size());
  for (std::string_view s : segments) out.append("/").append(s);
  if (out.empty() || trailingSlash) out.push_back('/');
  return out;
}

}  // namespace wsedge::http
