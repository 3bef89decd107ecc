#include "proxy/route/origin_policy.h"

#include <cctype>

namespace wsedge::proxy {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// scheme://host[:port] into its parts, lower case; false if not an origin.
bool split(std::string_view origin, std::string& scheme, std::string& host, std::string& port) {
  const std::size_t sep = origin.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  scheme = lower(origin.substr(0, sep + 3));
  std::string_view rest = origin.substr(sep + 3);
  if (rest.empty() || rest.find('/') != std::string_view::npos) return false;
  const std::size_t close = rest.find(']');
  const std::size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    port = std::string(rest.substr(colon));
    rest = rest.substr(0, colon);
  } else {
    port.clear();
  }
  host = lower(rest);
  return !host.empty();
}

}  // namespace

OriginPolicy::OriginPolicy(const std::vector<std::string>& allowed) {
  for (const std::string& a : allowed) {
    Entry e;
    if (!split(a, e.scheme, e.host, e.port)) continue;  // the loader checked them
    if (e.host.rfind("*.", 0) == 0) {
      e.wildcard = true;
      e.host = e.host.substr(1);
    }
    entries_.push_back(std::move(e));
  }
}

bool OriginPolicy::allows(std::optional<std::string_view> origin) const {
  if (entries_.empty()) return true;
  if (!origin) return false;
  std::string scheme, host, port;
  if (!split(*origin, scheme, host, port)) return false;
  for (const Entry& e : entries_) {
    if (e.scheme != scheme || e.port != port) continue;
    if (e.wildcard ? host.size() > e.host.size() &&
                         host.compare(host.size() - e.host.size(), e.host.size(), e.host) == 0
                   : host == e.host) {
      return true;
    }
  }
  return false;
}

}  // namespace wsedge::proxy
