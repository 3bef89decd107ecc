#include "proxy/pool/round_robin.h"

namespace wsedge::proxy {

RoundRobin::RoundRobin(const std::vector<std::uint32_t>& weights)
    : weight_(weights.begin(), weights.end()), current_(weights.size(), 0) {}

std::optional<std::size_t> RoundRobin::pick(const PickContext& context, const PoolState& pool) {
  return pickAmong([&](std::size_t i) { return !context.excluded(i, pool); });
}

}  // namespace wsedge::proxy
