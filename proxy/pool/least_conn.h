// Weighted least connections: the eligible backend with the fewest live
// sessions for its weight, counted over every worker. Ties (an idle pool,
// or sessions that end as fast as they start) go by smooth weighted round
// robin, so that the weights hold there too.
#pragma once

#include "proxy/pool/balancer.h"
#include "proxy/pool/round_robin.h"

namespace wsedge::proxy {

class LeastConn final : public Balancer {
 public:
  explicit LeastConn(const std::vector<std::uint32_t>& weights)
      : weight_(weights), ties_(weights) {}
  std::optional<std::size_t> pick(const PickContext& context, const PoolState& pool) override;

 private:
  std::vector<std::uint32_t> weight_;
  RoundRobin ties_;
};

}  // namespace wsedge::proxy
