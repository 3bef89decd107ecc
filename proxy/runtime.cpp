#include "proxy/runtime.h"

#include <map>

#include "conf/loader.h"

namespace wsedge::proxy {

const RouteRuntime* ListenerRuntime::route(std::string_view path) const {
  for (const RouteRuntime& r : routes) {
    if (path.substr(0, r.pathPrefix.size()) == r.pathPrefix) return &r;
  }
  return nullptr;
}

std::shared_ptr<const Runtime> buildRuntime(conf::Config config,
                                            std::vector<std::string>* warnings) {
  auto rt = std::make_shared<Runtime>();
  std::map<std::string, std::size_t> poolIndex;
  for (const auto& [name, pool] : config.pools) {
    PoolRuntime p{name, pool.balance, {}};
    for (const conf::BackendConfig& b : pool.backends) {
      std::string error;
      auto addr = io::SocketAddress::resolve(b.host, b.port, &error);
      if (!addr)
        throw conf::ConfigError(b.where.toString() + ": backend " + b.address + ": " + error);
      p.backends.push_back({b.address, *addr, b.weight});
    }
    poolIndex[name] = rt->pools.size();
    rt->pools.push_back(std::move(p));
  }
  for (const conf::ListenerConfig& l : config.listeners) {
    std::string error;
    auto addr = io::SocketAddress::resolve(l.host, l.port, &error);
    if (!addr)
      throw conf::ConfigError(l.where.toString() + ": listener " + l.address + ": " + error);
    ListenerRuntime lr{l.address, *addr, {}, nullptr, {}};
    for (const conf::RouteConfig& r : l.routes)
      lr.routes.push_back({r.pathPrefix, poolIndex.at(r.pool)});
    if (l.tls) {
      std::vector<tls::CertificateSpec> specs;
      for (const conf::CertificateConfig& c : l.tls->certificates)
        specs.push_back({c.cert, c.key, c.where.toString()});
      try {
        lr.certificates = tls::loadCertificates(specs);
      } catch (const tls::TlsConfigError& e) {
        throw conf::ConfigError(e.what());
      }
      if (warnings)
        warnings->insert(warnings->end(), lr.certificates->warnings.begin(),
                         lr.certificates->warnings.end());
      lr.tlsOptions.minVersion = l.tls->minVersion;
      lr.tlsOptions.ticketKeys = std::make_shared<tls::TicketKeys>(l.tls->ticketRotationMs / 1000);
    }
    rt->listeners.push_back(std::move(lr));
  }
  const conf::Limits& lim = config.limits;
  rt->frameLimits.maxFrameSize = lim.maxFrameSize;
  rt->frameLimits.maxMessageSize = lim.maxMessageSize;
  rt->frameLimits.validateUtf8 = lim.validateUtf8;
  rt->config = std::move(config);
  return rt;
}

}  // namespace wsedge::proxy
