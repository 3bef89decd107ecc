#include "io/mailbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "io/loop.h"

namespace wsedge::io {
namespace {

TEST(Mailbox, PostsFromSeveralThreadsAllRunInOrderPerPosterOnTheLoopThread) {
  Loop loop(Loop::Options{});
  const std::thread::id loopThread = std::this_thread::get_id();
  constexpr int kPosters = 4;
  constexpr int kTasks = 2000;
  std::vector<std::vector<int>> seen(kPosters);  // touched on the loop thread only
  std::atomic<int> offThread{0};
  std::vector<std::thread> posters;
  for (int p = 0; p < kPosters; ++p) {
    posters.emplace_back([&, p] {
      for (int i = 0; i < kTasks; ++i) {
        loop.post([&, p, i] {
          if (std::this_thread::get_id() != loopThread) ++offThread;
          seen[p].push_back(i);
        });
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto total = [&] {
    std::size_t n = 0;
    for (const auto& s : seen) n += s.size();
    return n;
  };
  // The loop sleeps up to a tick between polls: only the posts wake it.
  while (total() < kPosters * kTasks && std::chrono::steady_clock::now() < deadline) {
    loop.poll(100'000'000);
  }
  for (auto& t : posters) t.join();
  loop.poll(0);
  ASSERT_EQ(total(), std::size_t{kPosters * kTasks}) << "every task ran";
  EXPECT_EQ(offThread.load(), 0) << "all on the loop's thread";
  for (int p = 0; p < kPosters; ++p) {
    for (int i = 0; i < kTasks; ++i) ASSERT_EQ(seen[p][i], i) << "poster " << p;
  }
}

TEST(Mailbox, APostFromAnotherThreadWakesASleepingLoop) {
  Loop loop(Loop::Options{});
  bool ran = false;
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    loop.post([&] { ran = true; });
  });
  const auto start = std::chrono::steady_clock::now();
  // One long wait: without the wake-up it would last the full 5 s.
  while (!ran && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    loop.poll(5'000'000'000);
  }
  poster.join();
  EXPECT_TRUE(ran);
}

TEST(Mailbox, APostFromTheLoopThreadRunsAfterTheCurrentWorkAndMayPostAgain) {
  Loop loop(Loop::Options{});
  std::vector<int> order;
  loop.post([&] {
    order.push_back(1);
    loop.post([&] { order.push_back(3); });
    order.push_back(2);
  });
  EXPECT_TRUE(order.empty()) << "nothing runs inside post()";
  loop.poll(0);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace wsedge::io
