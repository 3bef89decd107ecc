#include "proxy/pool/least_conn.h"

namespace wsedge::proxy {

std::optional<std::size_t> LeastConn::pick(const PickContext& context, const PoolState& pool) {
  // The least load (live sessions per weight, compared without division:
  // a/wa < b/wb as a*wb < b*wa), then a round among those that have it.
  std::optional<std::size_t> least;
  const auto load = [&](std::size_t i) { return std::uint64_t{pool.backend(i).live()}; };
  for (std::size_t i = 0; i < weight_.size(); ++i) {
    if (context.excluded(i, pool)) continue;
    if (!least || load(i) * weight_[*least] < load(*least) * weight_[i]) least = i;
  }
  if (!least) return std::nullopt;
  const std::size_t l = *least;
  // Other workers move the counts meanwhile: if none ties any more, the least stands.
  const std::optional<std::size_t> tie = ties_.pickAmong([&](std::size_t i) {
    return !context.excluded(i, pool) && load(i) * weight_[l] == load(l) * weight_[i];
  });
  return tie ? tie : least;
}

}  // namespace wsedge::proxy
