#include "conf/balance_policy.h"

#include <array>
#include <utility>

namespace wsedge::conf {
namespace {

constexpr std::array<std::pair<BalancePolicy, std::string_view>, 4> kNames{{
    {BalancePolicy::kRoundRobin, "round_robin"},
    {BalancePolicy::kLeastConn, "least_conn"},
    {BalancePolicy::kRandomTwo, "random_two"},
    {BalancePolicy::kHash, "hash"},
}};

}  // namespace

std::optional<BalancePolicy> parseBalancePolicy(std::string_view name) {
  for (const auto& [policy, text] : kNames) {
    if (text == name) return policy;
  }
  return std::nullopt;
}

std::string_view balancePolicyName(BalancePolicy policy) {
  for (const auto& [p, text] : kNames) {
    if (p == policy) return text;
  }
  return "?";
}

std::string_view balancePolicyNames() {
  return "round_robin, least_conn, random_two, hash";
}

}  // namespace wsedge::conf
