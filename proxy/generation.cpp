#include "proxy/generation.h"

namespace wsedge::proxy {

Generation::Generation(std::shared_ptr<const Snapshot> snap, telemetry::WorkerMetrics* metrics)
    : snapshot(std::move(snap)) {
  if (!metrics) {
    own_ = std::make_unique<telemetry::WorkerMetrics>();
    metrics = own_.get();
  }
  for (const ListenerSnapshot& l : snapshot->listeners) {
    listenerCounters.push_back(&metrics->listener(l.name));
    std::vector<telemetry::RouteCounters*>& routes = routeCounters.emplace_back();
    for (const RouteSnapshot& r : l.routes) {
      const std::string& pool =
          r.pool == RouteSnapshot::kNoPool ? std::string() : snapshot->pools[r.pool].name;
      routes.push_back(&metrics->route(l.name, r.config->name, pool));
    }
  }
  for (const PoolSnapshot& pool : snapshot->pools) {
    std::vector<telemetry::BackendCounters*>& backends = backendCounters.emplace_back();
    for (const BackendSnapshot& b : pool.backends) {
      backends.push_back(&metrics->backend(pool.name, b.written));
    }
  }
  for (const PoolSnapshot& pool : snapshot->pools) {
    balancers.push_back(makeBalancer(pool.config->balance, pool.weights(), pool.maglev));
  }
  for (const ListenerSnapshot& l : snapshot->listeners) {
    tls.push_back(l.certificates
                      ? std::make_unique<tls::ServerContext>(l.certificates, l.tlsOptions)
                      : nullptr);
  }
}

}  // namespace wsedge::proxy
