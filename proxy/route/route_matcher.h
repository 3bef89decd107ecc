// What a route's `match:` asks of a request, compiled once per snapshot:
// every condition must hold (a route without any matches everything).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "proxy/http/head_parser.h"

namespace re2 {
class RE2;
}

namespace wsedge::proxy {

/// What routing looks at in a request.
struct RequestView {
  std::string_view path;   // normalised (see http/target.h)
  std::string_view query;  // as sent, with its '?', or empty
  std::string_view host;   // the Host field's name: hostName() of it
  const http::HeadParser* head = nullptr;
  std::span<const std::string_view> subprotocols;  // offered
  bool upgrade = true;                             // a WebSocket upgrade, or plain HTTP
};

class RouteMatcher {
 public:
  /// The regex, if any, was checked by the loader; it is compiled here.
  explicit RouteMatcher(const conf::RouteMatch& match);
  ~RouteMatcher();
  RouteMatcher(RouteMatcher&&) noexcept;
  RouteMatcher& operator=(RouteMatcher&&) noexcept;

  bool matches(const RequestView& request) const;
  /// The path_prefix, for rewrite_prefix; empty if the route has none.
  std::string_view pathPrefix() const { return prefix_ ? std::string_view(*prefix_) : ""; }

 private:
  std::optional<std::string> path_;
  std::optional<std::string> prefix_;
  std::unique_ptr<re2::RE2> regex_;  // anchored at both ends
  // Every path the regex can match lies in [min, max]: most paths are
  // turned away by two comparisons instead of a run of the regex.
  std::string regexMin_, regexMax_;
  bool regexRange_ = false;
  std::string host_;  // lower case; for a wildcard, the suffix with its dot (".example.com")
  bool hostWildcard_ = false;
  std::vector<conf::HeaderMatch> headers_;
  std::vector<conf::HeaderMatch> queries_;
  std::optional<std::string> subprotocol_;
  std::optional<bool> upgrade_;
};

/// A path prefix on segment boundaries: /chat matches /chat, /chat/ and
/// /chat/x, never /chatty.
bool pathPrefixMatches(std::string_view prefix, std::string_view path);

/// path with prefix (which it starts with) replaced: (/api/x, /api, /v2) -> /v2/x.
std::string rewritePath(std::string_view path, std::string_view prefix,
                        std::string_view replacement);

/// The host of a Host field: lower case, without the port (and the
/// brackets of an IPv6 literal).
std::string hostName(std::string_view hostField);

}  // namespace wsedge::proxy
