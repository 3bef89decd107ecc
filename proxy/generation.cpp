#include "proxy/generation.h"

namespace wsedge::proxy {

Generation::Generation(std::shared_ptr<const Snapshot> snap) : snapshot(std::move(snap)) {
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
