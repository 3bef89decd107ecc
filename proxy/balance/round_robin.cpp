#include "proxy/balance/round_robin.h"

namespace wsedge::proxy {

RoundRobin::RoundRobin(const std::vector<std::uint32_t>& weights)
    : weight_(weights.begin(), weights.end()), current_(weights.size(), 0) {
  for (std::int64_t w : weight_) total_ += w;
}

std::size_t RoundRobin::pick() {
  std::size_t best = 0;
  for (std::size_t i = 0; i < weight_.size(); ++i) {
    current_[i] += weight_[i];
    if (current_[i] > current_[best]) best = i;
  }
  current_[best] -= total_;
  return best;
}

std::unique_ptr<Balancer> makeBalancer(std::string_view policy,
                                       const std::vector<std::uint32_t>& weights) {
  if (policy == "round_robin") return std::make_unique<RoundRobin>(weights);
  return nullptr;
}

}  // namespace wsedge::proxy
