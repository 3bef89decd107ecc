// The power of two choices: two eligible backends drawn at random (by
// weight), and the one with fewer live sessions for its weight wins. Nearly
// as even as least_conn, without every worker herding to the same backend.
#pragma once

#include <random>

#include "proxy/pool/balancer.h"

namespace wsedge::proxy {

class RandomTwo final : public Balancer {
 public:
  explicit RandomTwo(const std::vector<std::uint32_t>& weights);
  std::optional<std::size_t> pick(const PickContext& context, const PoolState& pool) override;

 private:
  std::optional<std::size_t> draw(const PickContext& context, const PoolState& pool,
                                  std::optional<std::size_t> not_);

  std::vector<std::uint32_t> weight_;
  std::minstd_rand rng_;
};

}  // namespace wsedge::proxy
