#include "proxy/pool/random_two.h"

namespace wsedge::proxy {

RandomTwo::RandomTwo(const std::vector<std::uint32_t>& weights)
    : weight_(weights), rng_(std::random_device{}()) {}

// One eligible backend at random, by weight, other than `not_`.
std::optional<std::size_t> RandomTwo::draw(const PickContext& context, const PoolState& pool,
                                           std::optional<std::size_t> not_) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < weight_.size(); ++i) {
    if (i != not_ && !context.excluded(i, pool)) total += weight_[i];
  }
  if (total == 0) return std::nullopt;
  std::uint64_t r = std::uniform_int_distribution<std::uint64_t>(0, total - 1)(rng_);
  for (std::size_t i = 0; i < weight_.size(); ++i) {
    if (i == not_ || context.excluded(i, pool)) continue;
    if (r < weight_[i]) return i;
    r -= weight_[i];
  }
  return std::nullopt;
}

std::optional<std::size_t> RandomTwo::pick(const PickContext& context, const PoolState& pool) {
  const std::optional<std::size_t> a = draw(context, pool, std::nullopt);
  if (!a) return std::nullopt;
  const std::optional<std::size_t> b = draw(context, pool, a);
  if (!b) return a;
  return std::uint64_t{pool.backend(*b).live()} * weight_[*a] <
                 std::uint64_t{pool.backend(*a).live()} * weight_[*b]
             ? b
             : a;
}

}  // namespace wsedge::proxy
