#include "proxy/pool/round_robin.h"

namespace wsedge::proxy {

RoundRobin::RoundRobin(const std::vector<std::uint32_t>& weights)
    : weight_(weights.begin(), weights.end()), current_(weights.size(), 0) {}

std::optional<std::size_t> RoundRobin::pick(const PickContext& context, const PoolState& pool) {
  std::optional<std::size_t> best;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < weight_.size(); ++i) {
    if (context.excluded(i, pool)) continue;
    current_[i] += weight_[i];
    total += weight_[i];
    if (!best || current_[i] > current_[*best]) best = i;
  }
  if (best) current_[*best] -= total;
  return best;
}

}  // namespace wsedge::proxy
