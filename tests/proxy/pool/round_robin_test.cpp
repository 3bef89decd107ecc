#include "proxy/pool/round_robin.h"

#include <gtest/gtest.h>

#include <string>

namespace wsedge::proxy {
namespace {

PoolState poolOf(std::size_t n) {
  std::vector<std::shared_ptr<BackendState>> backends;
  for (std::size_t i = 0; i < n; ++i) backends.push_back(std::make_shared<BackendState>());
  return PoolState(std::move(backends));
}

std::string sequence(const std::vector<std::uint32_t>& weights, int n) {
  RoundRobin rr(weights);
  const PoolState pool = poolOf(weights.size());
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>('a' + *rr.pick({}, pool));
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

TEST(RoundRobin, ARetryNeverPicksABackendAlreadyTried) {
  // Weights {3, 1}: without the context, the heavy backend comes up twice
  // in a row, so a session whose first attempt failed there would go back.
  for (const std::vector<std::uint32_t>& weights :
       {std::vector<std::uint32_t>{3, 1}, {5, 1}, {1, 1}, {1, 5, 2}}) {
    RoundRobin rr(weights);
    const PoolState pool = poolOf(weights.size());
    for (int session = 0; session < 50; ++session) {
      std::vector<std::uint32_t> tried;
      for (std::size_t attempt = 0; attempt < weights.size(); ++attempt) {
        PickContext ctx;
        ctx.tried = tried;
        const auto pick = rr.pick(ctx, pool);
        ASSERT_TRUE(pick);
        EXPECT_EQ(std::count(tried.begin(), tried.end(), *pick), 0)
            << "picked " << *pick << " again";
        tried.push_back(static_cast<std::uint32_t>(*pick));
      }
      PickContext ctx;
      ctx.tried = tried;
      EXPECT_FALSE(rr.pick(ctx, pool)) << "every backend was tried";
    }
  }
}

TEST(RoundRobin, SkipsBackendsThePoolStateRulesOut) {
  RoundRobin rr({1, 1, 1});
  const PoolState pool = poolOf(3);
  pool.backend(1).healthy = false;
  pool.backend(2).ejectedUntilMs = 5000;
  PickContext ctx;
  ctx.nowMs = 1000;
  for (int i = 0; i < 6; ++i) EXPECT_EQ(rr.pick(ctx, pool), 0u);
  pool.backend(0).draining = true;
  EXPECT_FALSE(rr.pick(ctx, pool));
  ctx.nowMs = 5000;  // the ejection is over
  EXPECT_EQ(rr.pick(ctx, pool), 2u);
}

TEST(Balancer, FactoryKnowsItsPolicies) {
  EXPECT_NE(makeBalancer(*conf::parseBalancePolicy("round_robin"), {1}), nullptr);
  EXPECT_FALSE(conf::parseBalancePolicy("magic"));
}

}  // namespace
}  // namespace wsedge::proxy
