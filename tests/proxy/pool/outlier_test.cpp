#include "proxy/pool/outlier.h"

#include <gtest/gtest.h>

#include <vector>

namespace wsedge::proxy {
namespace {

conf::OutlierConfig config(std::uint32_t failures, std::uint64_t ejectionMs) {
  conf::OutlierConfig o;
  o.consecutiveFailures = failures;
  o.ejectionMs = ejectionMs;
  return o;
}

// Fails the backend until it is ejected; returns how many failures that took.
int failUntilEjected(BackendState& b, const conf::OutlierConfig& o, std::uint64_t nowMs) {
  for (int n = 1; n <= 1000; ++n) {
    if (noteFailure(b, o, nowMs)) return n;
  }
  return -1;
}

TEST(Outlier, EjectsAfterConsecutiveFailuresInARow) {
  const conf::OutlierConfig o = config(3, 30'000);
  BackendState b;
  EXPECT_FALSE(noteFailure(b, o, 1000));
  EXPECT_FALSE(noteFailure(b, o, 1000));
  EXPECT_TRUE(b.eligible(1000)) << "two failures of three: still in the running";
  EXPECT_TRUE(noteFailure(b, o, 1000));
  EXPECT_FALSE(b.eligible(1000));
  EXPECT_EQ(b.ejectedUntilMs.load(), 31'000u);
}

TEST(Outlier, AnEjectedBackendIsOutUntilItsEjectionEnds) {
  const conf::OutlierConfig o = config(1, 30'000);
  BackendState b;
  ASSERT_TRUE(noteFailure(b, o, 5000));
  EXPECT_FALSE(b.eligible(5000));
  EXPECT_FALSE(b.eligible(34'999));
  EXPECT_TRUE(b.eligible(35'000));
  EXPECT_TRUE(b.eligible(100'000));
}

TEST(Outlier, ASuccessResetsTheCount) {
  const conf::OutlierConfig o = config(3, 30'000);
  BackendState b;
  for (int round = 0; round < 10; ++round) {
    EXPECT_FALSE(noteFailure(b, o, 1000));
    EXPECT_FALSE(noteFailure(b, o, 1000));
    noteSuccess(b, o, 1000);
  }
  EXPECT_TRUE(b.eligible(1000)) << "twenty failures, never three in a row";
  EXPECT_EQ(failUntilEjected(b, o, 1000), 3);
}

TEST(Outlier, TheCountStartsAgainAfterAnEjection) {
  const conf::OutlierConfig o = config(4, 1000);
  BackendState b;
  EXPECT_EQ(failUntilEjected(b, o, 0), 4);
  EXPECT_EQ(failUntilEjected(b, o, 2000), 4) << "four more failures, not one";
}

TEST(Outlier, RepeatEjectionsDoubleAndCapAtTenTimes) {
  const conf::OutlierConfig o = config(2, 1000);
  BackendState b;
  std::vector<std::uint64_t> lengths;
  std::uint64_t now = 0;
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(failUntilEjected(b, o, now), 2);
    lengths.push_back(b.ejectedUntilMs.load() - now);
    now = b.ejectedUntilMs.load();  // back in the running, and failing again at once
    ASSERT_TRUE(b.eligible(now));
  }
  EXPECT_EQ(lengths, (std::vector<std::uint64_t>{1000, 2000, 4000, 8000, 10'000, 10'000, 10'000}));
}

TEST(Outlier, SuccessesWellClearOfTheEjectionStartFromTheBaseAgain) {
  const conf::OutlierConfig o = config(1, 1000);
  BackendState b;
  ASSERT_TRUE(noteFailure(b, o, 0));     // out until 1000
  ASSERT_TRUE(noteFailure(b, o, 1000));  // twice as long: until 3000
  EXPECT_EQ(b.ejectedUntilMs.load(), 3000u);
  noteSuccess(b, o, 3500);  // soon after it came back: the record stands
  ASSERT_TRUE(noteFailure(b, o, 3500));
  EXPECT_EQ(b.ejectedUntilMs.load(), 3500u + 4000u);
  noteSuccess(b, o, 7500 + 1001);  // well clear: forgiven
  ASSERT_TRUE(noteFailure(b, o, 9000));
  EXPECT_EQ(b.ejectedUntilMs.load(), 10'000u) << "the base ejection again";
}

TEST(Outlier, ALowerThresholdAfterAReloadStillEjects) {
  // The backend's state is carried into a new snapshot by identity, with
  // its count; the new config may ask for fewer failures than it has.
  BackendState b;
  const conf::OutlierConfig before = config(10, 30'000);
  for (int i = 0; i < 6; ++i) ASSERT_FALSE(noteFailure(b, before, 1000));
  const conf::OutlierConfig after = config(3, 30'000);
  EXPECT_TRUE(noteFailure(b, after, 2000)) << "seven failures in a row, three are enough now";
  EXPECT_FALSE(b.eligible(2000));
  EXPECT_EQ(b.ejectedUntilMs.load(), 32'000u);
  // And only once: the count starts again.
  EXPECT_EQ(failUntilEjected(b, after, 40'000), 3);
}

}  // namespace
}  // namespace wsedge::proxy
