// The balancing policies a pool may name, parsed in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace wsedge::conf {

enum class BalancePolicy : std::uint8_t {
  kRoundRobin,  // smooth weighted round robin
};

/// "round_robin" -> kRoundRobin; empty for an unknown name.
std::optional<BalancePolicy> parseBalancePolicy(std::string_view name);
std::string_view balancePolicyName(BalancePolicy policy);
/// The names, for error messages: "round_robin".
std::string_view balancePolicyNames();

}  // namespace wsedge::conf
