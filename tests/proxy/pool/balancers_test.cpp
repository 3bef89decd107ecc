// least_conn and random_two: who gets the next session, given the live
// sessions and the state every worker sees.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "proxy/pool/least_conn.h"
#include "proxy/pool/random_two.h"

namespace wsedge::proxy {
namespace {

PoolState poolWithLive(const std::vector<std::uint32_t>& live) {
  std::vector<std::shared_ptr<BackendState>> backends;
  for (std::uint32_t n : live) {
    auto b = std::make_shared<BackendState>();
    b->liveSessions = n;
    backends.push_back(std::move(b));
  }
  return PoolState(std::move(backends));
}

// Every way a backend can be out of the running, applied to backend i.
enum class RuledOut { kUnhealthy, kEjected, kDraining, kFull };

void ruleOut(const PoolState& pool, std::size_t i, RuledOut how) {
  BackendState& b = pool.backend(i);
  switch (how) {
    case RuledOut::kUnhealthy:
      b.healthy = false;
      break;
    case RuledOut::kEjected:
      b.ejectedUntilMs = 10'000;  // the tests pick at nowMs 1000
      break;
    case RuledOut::kDraining:
      b.draining = true;
      break;
    case RuledOut::kFull:
      b.maxConnections = b.live() == 0 ? 1 : b.live();
      if (b.live() == 0) b.liveSessions = 1;
      break;
  }
}

const RuledOut kEveryWay[] = {RuledOut::kUnhealthy, RuledOut::kEjected, RuledOut::kDraining,
                              RuledOut::kFull};

PickContext at1000() {
  PickContext ctx;
  ctx.nowMs = 1000;
  return ctx;
}

// Sessions that stay: each pick adds one live session to the backend chosen.
std::vector<std::uint32_t> fill(Balancer& b, const PoolState& pool, int sessions) {
  for (int i = 0; i < sessions; ++i) {
    const std::optional<std::size_t> pick = b.pick(at1000(), pool);
    EXPECT_TRUE(pick);
    if (!pick) break;
    pool.backend(*pick).liveSessions.fetch_add(1);
  }
  std::vector<std::uint32_t> live;
  for (std::size_t i = 0; i < pool.size(); ++i) live.push_back(pool.backend(i).live());
  return live;
}

TEST(LeastConn, PicksTheBackendWithFewestLiveSessions) {
  LeastConn lc({1, 1, 1});
  const PoolState pool = poolWithLive({5, 2, 7});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(lc.pick({}, pool), 1u);
}

TEST(LeastConn, LiveSessionsAreCountedForTheirWeight) {
  // 6 sessions on weight 3 is 2 each; 3 on weight 1 is 3.
  LeastConn lc({3, 1});
  const PoolState pool = poolWithLive({6, 3});
  EXPECT_EQ(lc.pick({}, pool), 0u);
  pool.backend(0).liveSessions = 10;  // 3.3 per weight now
  EXPECT_EQ(lc.pick({}, pool), 1u);
}

TEST(LeastConn, LongSessionsEndUpSpreadByWeight) {
  LeastConn lc({1, 2, 3});
  const PoolState pool = poolWithLive({0, 0, 0});
  EXPECT_EQ(fill(lc, pool, 600), (std::vector<std::uint32_t>{100, 200, 300}));
}

TEST(LeastConn, AnIdlePoolIsNotAllSentToItsFirstBackend) {
  LeastConn lc({1, 1, 1});
  const PoolState pool = poolWithLive({0, 0, 0});
  std::set<std::size_t> picked;
  for (int i = 0; i < 3; ++i) picked.insert(*lc.pick({}, pool));
  EXPECT_EQ(picked.size(), 3u) << "ties go round the pool";
}

TEST(LeastConn, NeverPicksAnIneligibleBackend) {
  for (RuledOut how : kEveryWay) {
    LeastConn lc({1, 1, 1});
    // Backend 1 is the least loaded, so it would be the pick.
    const PoolState pool = poolWithLive({4, 0, 5});
    ruleOut(pool, 1, how);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(lc.pick(at1000(), pool), 0u) << "ruled out as " << static_cast<int>(how);
    }
  }
}

TEST(LeastConn, NeverPicksABackendAlreadyTried) {
  LeastConn lc({1, 1, 1});
  const PoolState pool = poolWithLive({0, 3, 9});
  std::vector<std::uint32_t> tried;
  for (std::uint32_t expected : {0u, 1u, 2u}) {
    PickContext ctx;
    ctx.tried = tried;
    EXPECT_EQ(lc.pick(ctx, pool), expected);
    tried.push_back(expected);
  }
  PickContext ctx;
  ctx.tried = tried;
  EXPECT_FALSE(lc.pick(ctx, pool)) << "every backend was tried";
}

TEST(LeastConn, EmptyWhenNoneIsEligible) {
  LeastConn lc({1, 1});
  const PoolState pool = poolWithLive({0, 0});
  ruleOut(pool, 0, RuledOut::kUnhealthy);
  ruleOut(pool, 1, RuledOut::kFull);
  EXPECT_FALSE(lc.pick(at1000(), pool));
  PickContext later = at1000();
  later.nowMs = 20'000;
  EXPECT_FALSE(lc.pick(later, pool));
  pool.backend(1).liveSessions = 0;  // a session ended: room again
  EXPECT_EQ(lc.pick(later, pool), 1u);
}

TEST(LeastConn, AnEjectedBackendReturnsWhenItsEjectionEnds) {
  LeastConn lc({1, 1});
  const PoolState pool = poolWithLive({0, 5});
  pool.backend(0).ejectedUntilMs = 5000;
  PickContext ctx;
  ctx.nowMs = 4999;
  EXPECT_EQ(lc.pick(ctx, pool), 1u);
  ctx.nowMs = 5000;
  EXPECT_EQ(lc.pick(ctx, pool), 0u);
}

TEST(RandomTwo, WithTwoBackendsTheLessLoadedAlwaysWins) {
  RandomTwo r2({1, 1});
  const PoolState pool = poolWithLive({8, 3});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r2.pick({}, pool), 1u);
}

TEST(RandomTwo, LoadIsCountedForTheWeight) {
  // 4 sessions on weight 4 is 1 each; 2 on weight 1 is 2.
  RandomTwo r2({1, 4});
  const PoolState pool = poolWithLive({2, 4});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r2.pick({}, pool), 1u);
}

TEST(RandomTwo, TheMostLoadedBackendNeverWins) {
  // Whichever two are drawn, the busiest one loses to the other.
  RandomTwo r2({1, 1, 1, 1});
  const PoolState pool = poolWithLive({3, 50, 1, 2});
  std::set<std::size_t> picked;
  for (int i = 0; i < 400; ++i) {
    const auto pick = r2.pick({}, pool);
    ASSERT_TRUE(pick);
    EXPECT_NE(*pick, 1u);
    picked.insert(*pick);
  }
  // Backend 0 wins only when drawn with backend 1 (one pick in six): over
  // 400 picks every other backend has won at least once.
  EXPECT_EQ(picked, (std::set<std::size_t>{0, 2, 3}));
}

TEST(RandomTwo, LongSessionsEndUpEven) {
  RandomTwo r2({1, 1, 1, 1});
  const PoolState pool = poolWithLive({0, 0, 0, 0});
  for (std::uint32_t live : fill(r2, pool, 400)) {
    // The power of two choices keeps the spread within a few sessions.
    EXPECT_GE(live, 90u);
    EXPECT_LE(live, 110u);
  }
}

TEST(RandomTwo, NeverPicksAnIneligibleBackend) {
  for (RuledOut how : kEveryWay) {
    RandomTwo r2({1, 1, 1});
    const PoolState pool = poolWithLive({6, 0, 7});
    ruleOut(pool, 1, how);
    for (int i = 0; i < 200; ++i) {
      const auto pick = r2.pick(at1000(), pool);
      ASSERT_TRUE(pick);
      EXPECT_NE(*pick, 1u) << "ruled out as " << static_cast<int>(how);
    }
  }
}

TEST(RandomTwo, WithOneEligibleBackendItIsThePick) {
  RandomTwo r2({1, 1, 1});
  const PoolState pool = poolWithLive({0, 100, 0});
  ruleOut(pool, 0, RuledOut::kDraining);
  ruleOut(pool, 2, RuledOut::kEjected);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(r2.pick(at1000(), pool), 1u);
}

TEST(RandomTwo, NeverPicksABackendAlreadyTried) {
  RandomTwo r2({1, 1, 1});
  const PoolState pool = poolWithLive({0, 0, 0});
  for (int session = 0; session < 50; ++session) {
    std::vector<std::uint32_t> tried;
    for (int attempt = 0; attempt < 3; ++attempt) {
      PickContext ctx;
      ctx.tried = tried;
      const auto pick = r2.pick(ctx, pool);
      ASSERT_TRUE(pick);
      EXPECT_EQ(std::count(tried.begin(), tried.end(), *pick), 0) << "picked " << *pick << " again";
      tried.push_back(static_cast<std::uint32_t>(*pick));
    }
    PickContext ctx;
    ctx.tried = tried;
    EXPECT_FALSE(r2.pick(ctx, pool));
  }
}

TEST(RandomTwo, EmptyWhenNoneIsEligible) {
  RandomTwo r2({1, 1, 1});
  const PoolState pool = poolWithLive({0, 0, 0});
  ruleOut(pool, 0, RuledOut::kUnhealthy);
  ruleOut(pool, 1, RuledOut::kEjected);
  ruleOut(pool, 2, RuledOut::kFull);
  EXPECT_FALSE(r2.pick(at1000(), pool));
}

TEST(Balancer, FactoryBuildsEachPolicy) {
  // Round robin would alternate; both load-aware policies pick the idle one.
  const PoolState pool = poolWithLive({9, 0});
  for (const char* name : {"least_conn", "random_two"}) {
    const std::unique_ptr<Balancer> b = makeBalancer(*conf::parseBalancePolicy(name), {1, 1});
    ASSERT_NE(b, nullptr) << name;
    for (int i = 0; i < 4; ++i) EXPECT_EQ(b->pick({}, pool), 1u) << name;
  }
  EXPECT_EQ(makeBalancer(conf::BalancePolicy::kHash, {1, 1}), nullptr)
      << "hash needs the pool's Maglev table";
}

}  // namespace
}  // namespace wsedge::proxy
