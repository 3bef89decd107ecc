#include "proxy/pool/balancer.h"

#include "proxy/pool/least_conn.h"
#include "proxy/pool/maglev.h"
#include "proxy/pool/random_two.h"
#include "proxy/pool/round_robin.h"

namespace wsedge::proxy {

std::unique_ptr<Balancer> makeBalancer(conf::BalancePolicy policy,
                                       const std::vector<std::uint32_t>& weights,
                                       std::shared_ptr<const MaglevTable> table) {
  switch (policy) {
    case conf::BalancePolicy::kRoundRobin:
      return std::make_unique<RoundRobin>(weights);
    case conf::BalancePolicy::kLeastConn:
      return std::make_unique<LeastConn>(weights);
    case conf::BalancePolicy::kRandomTwo:
      return std::make_unique<RandomTwo>(weights);
    case conf::BalancePolicy::kHash:
      if (!table) return nullptr;
      return std::make_unique<MaglevBalancer>(std::move(table), weights);
  }
  return nullptr;
}

}  // namespace wsedge::proxy
