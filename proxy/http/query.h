// Parameters of a request's query and cookies of its Cookie fields, looked
// up by name, for routing, hashing and (later) channels. Values are
// percent-decoded; nothing is allocated unless a name matches.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/http/head_parser.h"

namespace wsedge::http {

/// The first value of this parameter in a query ("?a=1&b=2", with or
/// without its '?'), percent-decoded ('+' as a space). Empty if absent.
std::optional<std::string> queryParameter(std::string_view query, std::string_view name);

/// Calls fn(value) for every value of this parameter, in order.
template <class Fn>
void forEachQueryParameter(std::string_view query, std::string_view name, Fn&& fn);

/// The value of a cookie from the request's Cookie fields. Empty if absent.
std::optional<std::string_view> cookieValue(const HeadParser& head, std::string_view name);

/// Percent-decoding of a query component; empty if an escape is malformed.
std::optional<std::string> decodeQueryComponent(std::string_view in);

template <class Fn>
void forEachQueryParameter(std::string_view query, std::string_view name, Fn&& fn) {
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const std::optional<std::string> key = decodeQueryComponent(pair.substr(0, eq));
    if (!key || *key != name) continue;
    const std::optional<std::string> value = decodeQueryComponent(
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (value) fn(*value);
  }
}

}  // namespace wsedge::http
