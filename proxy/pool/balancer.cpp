#include "proxy/pool/balancer.h"

#include "proxy/pool/round_robin.h"

namespace wsedge::proxy {

std::unique_ptr<Balancer> makeBalancer(conf::BalancePolicy policy,
                                       const std::vector<std::uint32_t>& weights) {
  switch (policy) {
    case conf::BalancePolicy::kRoundRobin:
      return std::make_unique<RoundRobin>(weights);
  }
  return nullptr;
}

}  // namespace wsedge::proxy
