#include "proxy/balance/round_robin.h"

#include <gtest/gtest.h>

#include <string>

namespace wsedge::proxy {
namespace {

std::string sequence(const std::vector<std::uint32_t>& weights, int n) {
  RoundRobin rr(weights);
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>('a' + rr.pick());
  return s;
}

TEST(RoundRobin, EqualWeightsRotate) {
  EXPECT_EQ(sequence({1, 1, 1}, 7), "abcabca");
}

TEST(RoundRobin, WeightsAreSpreadNotBursty) {
  // nginx's smooth weighted round robin: 5,1,1 gives a a b a c a a.
  EXPECT_EQ(sequence({5, 1, 1}, 7), "aabacaa");
  const std::string s = sequence({1, 2}, 300);
  EXPECT_EQ(std::count(s.begin(), s.end(), 'b'), 200);
}

TEST(RoundRobin, SingleBackend) {
  EXPECT_EQ(sequence({3}, 3), "aaa");
}

TEST(Balancer, FactoryKnowsItsPolicies) {
  EXPECT_NE(makeBalancer("round_robin", {1}), nullptr);
  EXPECT_EQ(makeBalancer("magic", {1}), nullptr);
}

}  // namespace
}  // namespace wsedge::proxy
