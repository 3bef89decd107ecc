#include "proxy/route/origin_policy.h"

#include "conf/origin.h"

namespace wsedge::proxy {

OriginPolicy::OriginPolicy(const std::vector<std::string>& allowed) {
  for (const std::string& a : allowed) {
    std::optional<conf::Origin> o = conf::parseOrigin(a);
    if (!o) continue;  // the loader refused it
    Entry e{std::move(o->scheme), std::move(o->host), false, std::move(o->port)};
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
  const std::optional<conf::Origin> o = conf::parseOrigin(*origin);
  // A browser never sends a wildcard: one that looks like it is no origin.
  if (!o || o->host.find('*') != std::string::npos) return false;
  for (const Entry& e : entries_) {
    if (e.scheme != o->scheme || e.port != o->port) continue;
    const std::string& host = o->host;
    if (e.wildcard ? host.size() > e.host.size() &&
                         host.compare(host.size() - e.host.size(), e.host.size(), e.host) == 0
                   : host == e.host) {
      return true;
    }
  }
  return false;
}

}  // namespace wsedge::proxy
