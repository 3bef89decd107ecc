// allowed_origins: which pages may open a WebSocket on a route, against
// cross-site WebSocket hijacking. Entries are origins ("https://app.example.com")
// or wildcards over the host ("https://*.example.com"); comparison ignores
// the case of scheme and host. A request without an Origin is not allowed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsedge::proxy {

class OriginPolicy {
 public:
  OriginPolicy() = default;  // allows everything
  explicit OriginPolicy(const std::vector<std::string>& allowed);

  bool restricted() const { return !entries_.empty(); }
  bool allows(std::optional<std::string_view> origin) const;

 private:
  struct Entry {
    std::string scheme;  // lower case, with "://"
    std::string host;    // lower case; a wildcard keeps its suffix with the dot
    bool wildcard = false;
    std::string port;  // ":443", or empty
  };
  std::vector<Entry> entries_;
};

}  // namespace wsedge::proxy
