#include "proxy/pool/outlier.h"

#include <algorithm>

namespace wsedge::proxy {

bool noteFailure(BackendState& b, const conf::OutlierConfig& o, std::uint64_t nowMs) {
  std::uint32_t failures = b.consecutiveFailures.fetch_add(1, std::memory_order_relaxed) + 1;
  // At or over the threshold, not exactly at it: the count is carried into a
  // new snapshot, whose threshold may be lower than it already is. The worker
  // that takes the count back to 0 is the one that ejects, so there is one
  // ejection per crossing.
  if (failures < o.consecutiveFailures) return false;
  if (!b.consecutiveFailures.compare_exchange_strong(failures, 0, std::memory_order_relaxed)) {
    return false;  // another failure came in since: its worker ejects
  }
  const std::uint32_t n = b.ejections.fetch_add(1, std::memory_order_relaxed);
  b.ejectionsTotal.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t factor = std::min<std::uint64_t>(std::uint64_t{1} << std::min(n, 4u), 10);
  b.ejectedUntilMs.store(nowMs + o.ejectionMs * factor, std::memory_order_relaxed);
  return true;
}

void noteSuccess(BackendState& b, const conf::OutlierConfig& o, std::uint64_t nowMs) {
  b.consecutiveFailures.store(0, std::memory_order_relaxed);
  // Well clear of its last ejection: the next one starts from the base again.
  const std::uint64_t until = b.ejectedUntilMs.load(std::memory_order_relaxed);
  if (until != 0 && nowMs > until + o.ejectionMs) b.ejections.store(0, std::memory_order_relaxed);
}

}  // namespace wsedge::proxy
