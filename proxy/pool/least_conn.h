// Weighted least connections: the eligible backend with the fewest live
// sessions for its weight, counted over every worker. Ties go round the
// pool, so that an idle pool is not all sent to its first backend.
#pragma once

#include "proxy/pool/balancer.h"

namespace wsedge::proxy {

class LeastConn final : public Balancer {
 public:
  explicit LeastConn(const std::vector<std::uint32_t>& weights) : weight_(weights) {}
  std::optional<std::size_t> pick(const PickContext& context, const PoolState& pool) override;

 private:
  std::vector<std::uint32_t> weight_;
  std::size_t next_ = 0;  // where ties start
};

}  // namespace wsedge::proxy
