// Maglev consistent hashing (Eisenbud et al., NSDI 2016; as Envoy does it):
// a lookup table of a prime size, filled from each backend's own
// permutation of the slots, so that every backend owns an even share (by
// weight) and removing one moves little more than that backend's keys. The
// table depends only on the backends' identities and weights, so every
// process with the same pool maps a key to the same backend. Built once
// per snapshot and shared read-only by every worker.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "proxy/pool/balancer.h"
#include "proxy/pool/random_two.h"

namespace wsedge::proxy {

class MaglevTable {
 public:
  static constexpr std::uint32_t kDefaultSize = 65537;  // prime

  /// identities: stable names of the backends (their addresses); weights >= 1.
  MaglevTable(const std::vector<std::string>& identities, const std::vector<std::uint32_t>& weights,
              std::uint32_t size = kDefaultSize);

  std::uint32_t size() const { return static_cast<std::uint32_t>(entry_.size()); }
  /// The backend that owns slot i.
  std::uint32_t entry(std::uint64_t i) const { return entry_[i % entry_.size()]; }

 private:
  std::vector<std::uint32_t> entry_;
};

/// Picks by the session's hash key; a session without one (the header,
/// cookie or query parameter was missing) is balanced by random_two. When
/// the owner of the key's slot cannot take it, the next slots are asked in
/// turn, so the stand-in is the same everywhere too.
class MaglevBalancer final : public Balancer {
 public:
  MaglevBalancer(std::shared_ptr<const MaglevTable> table,
                 const std::vector<std::uint32_t>& weights);
  std::optional<std::size_t> pick(const PickContext& context, const PoolState& pool) override;

 private:
  std::shared_ptr<const MaglevTable> table_;
  RandomTwo fallback_;
};

}  // namespace wsedge::proxy
