// Backend selection: one small interface, one file per policy. Each worker
// has its own balancer per pool and snapshot (its own rotation state, no
// locks); what all workers share is read from the PoolState.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "conf/balance_policy.h"
#include "proxy/pool/pool_state.h"

namespace wsedge::proxy {

class MaglevTable;

/// What the balancer knows of the session it picks for.
struct PickContext {
  std::optional<std::uint64_t> hashKey;  // the request's hash_key, hashed (hash pools)
  std::span<const std::uint32_t> tried;  // backends this session already tried
  std::uint64_t nowMs = 0;               // for ejection deadlines

  /// Out of the running for this pick: already tried, or not eligible.
  bool excluded(std::size_t i, const PoolState& pool) const {
    return std::find(tried.begin(), tried.end(), i) != tried.end() ||
           !pool.backend(i).eligible(nowMs);
  }
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  /// The backend for the next attempt: never one already tried for this
  /// session, nor one the pool state rules out. Empty when none is left.
  virtual std::optional<std::size_t> pick(const PickContext& context, const PoolState& pool) = 0;
};

/// The policy for backends with these weights (all >= 1); kHash needs the
/// pool's Maglev table.
std::unique_ptr<Balancer> makeBalancer(conf::BalancePolicy policy,
                                       const std::vector<std::uint32_t>& weights,
                                       std::shared_ptr<const MaglevTable> table = nullptr);

}  // namespace wsedge::proxy
