// Smooth weighted round robin (as nginx does it): over any window of
// sum(weights) picks, each backend is chosen weight times, spread evenly
// rather than in bursts. With equal weights it is plain rotation. Backends
// out of the running for a pick are left out of that round, as nginx skips
// the peers it has tried.
#pragma once

#include "proxy/pool/balancer.h"

namespace wsedge::proxy {

class RoundRobin final : public Balancer {
 public:
  explicit RoundRobin(const std::vector<std::uint32_t>& weights);
  std::optional<std::size_t> pick(const PickContext& context, const PoolState& pool) override;

  /// One round among the backends for which candidate(i) holds.
  template <class Candidate>
  std::optional<std::size_t> pickAmong(Candidate&& candidate);

 private:
  std::vector<std::int64_t> weight_;
  std::vector<std::int64_t> current_;
};

template <class Candidate>
std::optional<std::size_t> RoundRobin::pickAmong(Candidate&& candidate) {
  std::optional<std::size_t> best;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < weight_.size(); ++i) {
    if (!candidate(i)) continue;
    current_[i] += weight_[i];
    total += weight_[i];
    if (!best || current_[i] > current_[*best]) best = i;
  }
  if (best) current_[*best] -= total;
  return best;
}

}  // namespace wsedge::proxy
