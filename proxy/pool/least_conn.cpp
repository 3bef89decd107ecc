#include "proxy/pool/least_conn.h"

namespace wsedge::proxy {

std::optional<std::size_t> LeastConn::pick(const PickContext& context, const PoolState& pool) {
  std::optional<std::size_t> best;
  const std::size_t n = weight_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (next_ + k) % n;
    if (context.excluded(i, pool)) continue;
    // live/weight compared without division: a*wb < b*wa.
    if (!best || std::uint64_t{pool.backend(i).live()} * weight_[*best] <
                     std::uint64_t{pool.backend(*best).live()} * weight_[i]) {
      best = i;
    }
  }
  next_ = (next_ + 1) % (n ? n : 1);
  return best;
}

}  // namespace wsedge::proxy
