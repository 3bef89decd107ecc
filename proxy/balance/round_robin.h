// Smooth weighted round robin (as nginx does it): over any window of
// sum(weights) picks, each backend is chosen weight times, spread evenly
// rather than in bursts. With equal weights it is plain rotation.
#pragma once

#include "proxy/balance/balancer.h"

namespace wsedge::proxy {

class RoundRobin final : public Balancer {
 public:
  explicit RoundRobin(const std::vector<std::uint32_t>& weights);
  std::size_t pick() override;

 private:
  std::vector<std::int64_t> weight_;
  std::vector<std::int64_t> current_;
  std::int64_t total_ = 0;
};

}  // namespace wsedge::proxy
