// The balancing policies a pool may name, parsed in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace wsedge::conf {

enum class BalancePolicy : std::uint8_t {
  kRoundRobin,  // smooth weighted round robin
  kLeastConn,   // the fewest live sessions for its weight, across workers
  kRandomTwo,   // the better of two picked at random (power of two choices)
  kHash,        // Maglev consistent hashing over a key of the request
};

/// "round_robin" -> kRoundRobin; empty for an unknown name.
std::optional<BalancePolicy> parseBalancePolicy(std::string_view name);
std::string_view balancePolicyName(BalancePolicy policy);
/// The names, for error messages: "round_robin, least_conn, ...".
std::string_view balancePolicyNames();

}  // namespace wsedge::conf
