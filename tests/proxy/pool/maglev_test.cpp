#include "proxy/pool/maglev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxy/pool/stable_hash.h"

namespace wsedge::proxy {
namespace {

constexpr int kKeys = 10'000;

std::vector<std::string> identities(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("10.0.0." + std::to_string(i + 1) + ":8080");
  return out;
}

// A request's hash_key (a user id, say) as the session hashes it.
std::uint64_t key(int i) {
  return stableHash("user-" + std::to_string(i));
}

PoolState idlePool(std::size_t n) {
  std::vector<std::shared_ptr<BackendState>> backends;
  for (std::size_t i = 0; i < n; ++i) backends.push_back(std::make_shared<BackendState>());
  return PoolState(std::move(backends));
}

PickContext forKey(std::uint64_t k) {
  PickContext ctx;
  ctx.hashKey = k;
  ctx.nowMs = 1000;
  return ctx;
}

// The identity each key lands on.
std::vector<std::string> owners(const std::vector<std::string>& ids,
                                const std::vector<std::uint32_t>& weights) {
  const MaglevTable table(ids, weights);
  std::vector<std::string> out;
  for (int i = 0; i < kKeys; ++i) out.push_back(ids[table.entry(key(i))]);
  return out;
}

void expectSmallDisruptionWhenOneIsRemoved(std::size_t n) {
  const std::vector<std::string> all = identities(n);
  const std::vector<std::string> before = owners(all, std::vector<std::uint32_t>(n, 1));
  for (std::size_t removed = 0; removed < n; ++removed) {
    std::vector<std::string> rest = all;
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(removed));
    const std::vector<std::string> after = owners(rest, std::vector<std::uint32_t>(n - 1, 1));
    int others = 0, moved = 0;
    for (int i = 0; i < kKeys; ++i) {
      if (before[i] == all[removed]) {
        EXPECT_NE(after[i], all[removed]);
        continue;
      }
      ++others;
      if (after[i] != before[i]) ++moved;
    }
    EXPECT_LE(moved * 100, others * 3)
        << "removing " << all[removed] << " of " << n << " moved " << moved << " of the " << others
        << " keys the other backends had";
  }
}

TEST(Maglev, RemovingOneOfFiveMovesLittleElse) {
  expectSmallDisruptionWhenOneIsRemoved(5);
}

TEST(Maglev, RemovingOneOfTenMovesLittleElse) {
  expectSmallDisruptionWhenOneIsRemoved(10);
}

TEST(Maglev, AddingABackendTakesKeysMostlyFromNoOneElse) {
  // The other way round: a new backend takes its share, and the keys that
  // change owner are (nearly) all keys that go to it.
  const std::vector<std::string> ten = identities(10);
  const std::vector<std::string> nine(ten.begin(), ten.end() - 1);
  const std::vector<std::string> before = owners(nine, std::vector<std::uint32_t>(9, 1));
  const std::vector<std::string> after = owners(ten, std::vector<std::uint32_t>(10, 1));
  int toNew = 0, between = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (after[i] == ten.back()) {
      ++toNew;
    } else if (after[i] != before[i]) {
      ++between;
    }
  }
  EXPECT_GT(toNew, kKeys / 10 * 8 / 10);
  EXPECT_LT(toNew, kKeys / 10 * 12 / 10);
  EXPECT_LE(between * 100, kKeys * 3);
}

TEST(Maglev, TwoTablesFromTheSamePoolAgreeOnEverySlot) {
  // Two proxy processes build their own table; a key must land on the same
  // backend in both.
  const std::vector<std::uint32_t> weights = {1, 3, 2, 1, 1};
  const MaglevTable a(identities(5), weights);
  const MaglevTable b(identities(5), weights);
  ASSERT_EQ(a.size(), MaglevTable::kDefaultSize);
  ASSERT_EQ(b.size(), a.size());
  for (std::uint32_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.entry(i), b.entry(i)) << "slot " << i;
}

TEST(Maglev, TheOrderBackendsAreListedInDoesNotMatter) {
  // A name that resolves to several addresses may come back from DNS in
  // another order in another process; the backends are the same, so the
  // keys must land on the same ones.
  const std::vector<std::string> ids = identities(6);
  const std::vector<std::uint32_t> weights = {1, 2, 1, 3, 1, 1};
  std::vector<std::size_t> order = {3, 0, 5, 1, 4, 2};
  std::vector<std::string> shuffledIds;
  std::vector<std::uint32_t> shuffledWeights;
  for (std::size_t i : order) {
    shuffledIds.push_back(ids[i]);
    shuffledWeights.push_back(weights[i]);
  }
  const MaglevTable a(ids, weights);
  const MaglevTable b(shuffledIds, shuffledWeights);
  int differ = 0;
  for (std::uint32_t i = 0; i < a.size(); ++i) differ += ids[a.entry(i)] != shuffledIds[b.entry(i)];
  EXPECT_EQ(differ, 0) << "slots owned by another backend";
}

TEST(Maglev, EveryBackendOwnsAnEvenShare) {
  const MaglevTable table(identities(7), std::vector<std::uint32_t>(7, 1));
  std::vector<int> slots(7, 0);
  for (std::uint32_t i = 0; i < table.size(); ++i) ++slots[table.entry(i)];
  for (int s : slots) {
    EXPECT_NEAR(s, table.size() / 7.0, 1.0) << "Maglev fills the table round by round";
  }
}

TEST(Maglev, SharesAreProportionalToWeight) {
  const std::vector<std::uint32_t> weights = {1, 2, 3, 4};
  const MaglevTable table(identities(4), weights);
  std::vector<int> slots(4, 0), keys(4, 0);
  for (std::uint32_t i = 0; i < table.size(); ++i) ++slots[table.entry(i)];
  for (int i = 0; i < kKeys; ++i) ++keys[table.entry(key(i))];
  for (std::size_t b = 0; b < weights.size(); ++b) {
    const double share = weights[b] / 10.0;
    EXPECT_NEAR(slots[b] / double(table.size()), share, 0.01) << "backend " << b;
    EXPECT_NEAR(keys[b] / double(kKeys), share, 0.03) << "backend " << b;
  }
}

TEST(Maglev, ASmallTableStillGivesEveryBackendASlot) {
  const MaglevTable table(identities(3), {1, 1, 1}, 7);
  EXPECT_EQ(table.size(), 7u);
  std::vector<int> slots(3, 0);
  for (std::uint32_t i = 0; i < table.size(); ++i) {
    ASSERT_LT(table.entry(i), 3u);
    ++slots[table.entry(i)];
  }
  for (int s : slots) EXPECT_GE(s, 2);
}

class MaglevBalancerTest : public ::testing::Test {
 protected:
  static constexpr std::size_t kN = 5;
  std::vector<std::uint32_t> weights_ = std::vector<std::uint32_t>(kN, 1);
  std::shared_ptr<const MaglevTable> table_ =
      std::make_shared<MaglevTable>(identities(kN), weights_);
  PoolState pool_ = idlePool(kN);
  MaglevBalancer balancer_{table_, weights_};
};

TEST_F(MaglevBalancerTest, AKeyGoesToItsOwnerWhateverTheLoad) {
  for (int i = 0; i < 1000; ++i) {
    const std::size_t owner = table_->entry(key(i));
    pool_.backend(owner).liveSessions = 1000;  // busy, but not full
    EXPECT_EQ(balancer_.pick(forKey(key(i)), pool_), owner);
    pool_.backend(owner).liveSessions = 0;
  }
}

TEST_F(MaglevBalancerTest, TwoProcessesSendAKeyToTheSameBackend) {
  MaglevBalancer other(std::make_shared<MaglevTable>(identities(kN), weights_), weights_);
  for (int i = 0; i < 2000; ++i) {
    EXPECT_EQ(balancer_.pick(forKey(key(i)), pool_), other.pick(forKey(key(i)), pool_));
  }
}

TEST_F(MaglevBalancerTest, WithoutAHashKeyItBalancesByLoad) {
  // The header, cookie or query parameter was missing: random_two, which
  // never hands the busiest backend a session.
  for (std::size_t i = 0; i < kN; ++i) pool_.backend(i).liveSessions = 10;
  pool_.backend(3).liveSessions = 500;
  PickContext ctx;
  ctx.nowMs = 1000;
  std::map<std::size_t, int> picks;
  for (int i = 0; i < 300; ++i) {
    const auto pick = balancer_.pick(ctx, pool_);
    ASSERT_TRUE(pick);
    ++picks[*pick];
  }
  EXPECT_EQ(picks.count(3), 0u);
  EXPECT_EQ(picks.size(), kN - 1) << "spread over the others, not one fixed backend";
}

TEST_F(MaglevBalancerTest, WithoutAHashKeyTwoBackendsGoToTheIdleOne) {
  const std::vector<std::uint32_t> two = {1, 1};
  MaglevBalancer b(std::make_shared<MaglevTable>(identities(2), two), two);
  PoolState pool = idlePool(2);
  pool.backend(0).liveSessions = 7;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(b.pick({}, pool), 1u);
}

TEST_F(MaglevBalancerTest, AnIneligibleOwnerHasTheSameStandInEverywhere) {
  MaglevBalancer other(std::make_shared<MaglevTable>(identities(kN), weights_), weights_);
  const std::size_t down = 2;
  pool_.backend(down).healthy = false;
  std::map<std::size_t, int> standIns;
  for (int i = 0; i < kKeys; ++i) {
    const std::uint64_t k = key(i);
    const std::optional<std::size_t> pick = balancer_.pick(forKey(k), pool_);
    ASSERT_TRUE(pick);
    EXPECT_NE(*pick, down);
    EXPECT_EQ(pick, balancer_.pick(forKey(k), pool_)) << "the same on every pick";
    EXPECT_EQ(pick, other.pick(forKey(k), pool_)) << "and in every process";
    if (table_->entry(k) == down) {
      ++standIns[*pick];
    } else {
      EXPECT_EQ(*pick, table_->entry(k)) << "keys of healthy backends stay where they were";
    }
  }
  // The down backend's keys are shared out, not all dumped on one neighbour.
  ASSERT_EQ(standIns.size(), kN - 1);
  int total = 0;
  for (const auto& [backend, n] : standIns) total += n;
  for (const auto& [backend, n] : standIns) {
    EXPECT_GT(n, total / static_cast<int>(kN - 1) / 2) << "backend " << backend;
  }
}

TEST_F(MaglevBalancerTest, EveryWayOfBeingOutOfTheRunningMovesTheKey) {
  const std::uint64_t k = key(42);
  const std::size_t owner = table_->entry(k);
  const std::optional<std::size_t> standIn = [&] {
    pool_.backend(owner).healthy = false;
    auto pick = balancer_.pick(forKey(k), pool_);
    pool_.backend(owner).healthy = true;
    return pick;
  }();
  ASSERT_TRUE(standIn);
  ASSERT_NE(*standIn, owner);

  pool_.backend(owner).ejectedUntilMs = 5000;
  EXPECT_EQ(balancer_.pick(forKey(k), pool_), standIn) << "ejected";
  PickContext later = forKey(k);
  later.nowMs = 5000;
  EXPECT_EQ(balancer_.pick(later, pool_), owner) << "the ejection is over";
  pool_.backend(owner).ejectedUntilMs = 0;

  pool_.backend(owner).draining = true;
  EXPECT_EQ(balancer_.pick(forKey(k), pool_), standIn) << "draining";
  pool_.backend(owner).draining = false;

  pool_.backend(owner).maxConnections = 3;
  pool_.backend(owner).liveSessions = 3;
  EXPECT_EQ(balancer_.pick(forKey(k), pool_), standIn) << "full";
  pool_.backend(owner).liveSessions = 2;
  EXPECT_EQ(balancer_.pick(forKey(k), pool_), owner) << "room again";
}

TEST_F(MaglevBalancerTest, ARetryGoesToTheStandIn) {
  const std::uint64_t k = key(7);
  std::vector<std::uint32_t> tried;
  for (std::size_t attempt = 0; attempt < kN; ++attempt) {
    PickContext ctx = forKey(k);
    ctx.tried = tried;
    const auto pick = balancer_.pick(ctx, pool_);
    ASSERT_TRUE(pick);
    if (attempt == 0) {
      EXPECT_EQ(*pick, table_->entry(k));
    }
    EXPECT_EQ(std::count(tried.begin(), tried.end(), *pick), 0) << "picked " << *pick << " again";
    tried.push_back(static_cast<std::uint32_t>(*pick));
  }
  PickContext ctx = forKey(k);
  ctx.tried = tried;
  EXPECT_FALSE(balancer_.pick(ctx, pool_)) << "every backend was tried";
}

TEST_F(MaglevBalancerTest, EmptyWhenNoneIsEligible) {
  for (std::size_t i = 0; i < kN; ++i) pool_.backend(i).draining = true;
  EXPECT_FALSE(balancer_.pick(forKey(key(1)), pool_));
  EXPECT_FALSE(balancer_.pick({}, pool_)) << "nor without a key";
}

TEST_F(MaglevBalancerTest, TheFactoryNeedsTheTable) {
  EXPECT_EQ(makeBalancer(conf::BalancePolicy::kHash, weights_), nullptr);
  const std::unique_ptr<Balancer> b = makeBalancer(conf::BalancePolicy::kHash, weights_, table_);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b->pick(forKey(key(i)), pool_), table_->entry(key(i)));
}

}  // namespace
}  // namespace wsedge::proxy
