// Backend selection: one small interface, one file per policy. Each worker
// has its own balancer per pool (shared nothing), so no state is locked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace wsedge::proxy {

class Balancer {
 public:
  virtual ~Balancer() = default;
  /// The index of the backend for the next connection attempt. Only called
  /// on a pool with at least one backend.
  virtual std::size_t pick() = 0;
};

/// Builds the named policy for backends with these weights (all >= 1).
/// Returns null for an unknown name (the loader refuses those first).
std::unique_ptr<Balancer> makeBalancer(std::string_view policy,
                                       const std::vector<std::uint32_t>& weights);

}  // namespace wsedge::proxy
