#include "io/loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

namespace wsedge::io {
namespace {

// A connected loopback pair: `peer` is a plain blocking socket the test
// drives; `server` is the accepted end, handed to the loop.
struct Pair {
  int peer = -1;
  int server = -1;
};

Pair loopbackPair() {
  const int lst = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(lst, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(lst, 1);
  ::getsockname(lst, reinterpret_cast<sockaddr*>(&a), &len);
  Pair p;
  p.peer = ::socket(AF_INET, SOCK_STREAM, 0);
  ::connect(p.peer, reinterpret_cast<sockaddr*>(&a), sizeof a);
  p.server = ::accept4(lst, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  ::close(lst);
  return p;
}

struct Collector final : StreamHandler {
  Loop* loop = nullptr;
  std::map<std::uint32_t, std::vector<std::byte>> received;
  std::map<std::uint32_t, int> ends, closes;
  int callbacksAfterClose = 0;
  void onData(ConnId id, std::span<std::byte> data) override {
    if (closes[id.slot]) ++callbacksAfterClose;
    auto& v = received[id.slot];
    v.insert(v.end(), data.begin(), data.end());
  }
  void onReadEnd(ConnId id, int) override { ++ends[id.slot]; }
  void onConnected(ConnId, int) override {}
  void onDrained(ConnId) override {}
  void onClosed(ConnId id) override { ++closes[id.slot]; }
};

// Polls the loop on this thread until done() or the deadline.
template <class Done>
bool runUntil(Loop& loop, Done done, int seconds = 10) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    loop.poll(1'000'000);
  }
  return true;
}

TEST(Loop, NoDataIsLostWhenTheBufferRingRunsDry) {
  // Two receive buffers for eight busy connections: multishot recv stops
  // with ENOBUFS again and again and must be re-armed without losing bytes.
  Loop::Options o;
  o.recvBufferCount = 2;
  o.recvBufferSize = 1024;
  Loop loop(o);
  Collector c;
  constexpr int kConns = 8;
  constexpr std::size_t kBytes = 256 * 1024;
  std::vector<Pair> pairs;
  std::vector<ConnId> ids;
  for (int i = 0; i < kConns; ++i) {
    pairs.push_back(loopbackPair());
    ids.push_back(loop.adopt(pairs.back().server, c));
  }
  std::vector<std::thread> writers;
  for (int i = 0; i < kConns; ++i) {
    writers.emplace_back([&, i] {
      std::vector<std::uint8_t> data(kBytes);
      for (std::size_t k = 0; k < kBytes; ++k) data[k] = static_cast<std::uint8_t>(k * 31 + i);
      std::size_t sent = 0;
      while (sent < kBytes)
        sent +=
            static_cast<std::size_t>(::send(pairs[i].peer, data.data() + sent, kBytes - sent, 0));
      ::shutdown(pairs[i].peer, SHUT_WR);
    });
  }
  const bool done = runUntil(loop, [&] {
    for (ConnId id : ids) {
      if (c.ends[id.slot] == 0) return false;
    }
    return true;
  });
  for (auto& w : writers) w.join();
  ASSERT_TRUE(done) << "every connection reaches its end of stream";
  EXPECT_GT(loop.noBufferStops(), 0u) << "the test must really run the ring dry";
  for (int i = 0; i < kConns; ++i) {
    const auto& got = c.received[ids[i].slot];
    ASSERT_EQ(got.size(), kBytes) << "connection " << i;
    for (std::size_t k = 0; k < kBytes; ++k) {
      ASSERT_EQ(std::to_integer<std::uint8_t>(got[k]), static_cast<std::uint8_t>(k * 31 + i))
          << i << " at " << k;
    }
    ::close(pairs[i].peer);
  }
  for (ConnId id : ids) loop.close(id, false);
  runUntil(loop, [&] { return loop.connectionCount() == 0; });
}

TEST(Loop, ClosingWithASendInFlightReportsOnceAndNothingAfter) {
  Loop loop(Loop::Options{});
  Collector c;
  Pair p = loopbackPair();
  // A peer that never reads: the send cannot complete, it is cancelled.
  const int small = 4096;
  ::setsockopt(p.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  const ConnId id = loop.adopt(p.server, c);
  std::vector<std::byte> big(8 << 20, std::byte{'x'});
  loop.output(id).write(big);
  loop.output(id).commit();
  loop.flush(id);
  int iterations = 0;
  runUntil(loop, [&] { return ++iterations > 20; });
  EXPECT_TRUE(loop.alive(id));
  loop.close(id, false);
  EXPECT_FALSE(loop.alive(id)) << "a closing connection is not alive";
  ASSERT_TRUE(
      runUntil(loop, [&] { return c.closes[id.slot] == 1 && loop.connectionCount() == 0; }));
  EXPECT_EQ(c.closes[id.slot], 1);
  EXPECT_EQ(c.callbacksAfterClose, 0);
  // The id is stale now: the loop ignores it.
  loop.pauseRecv(id);
  loop.close(id, true);
  EXPECT_FALSE(loop.alive(id));
  ::close(p.peer);
}

TEST(Loop, PausedConnectionsHoldTheirDataInTheKernel) {
  Loop loop(Loop::Options{});
  Collector c;
  Pair p = loopbackPair();
  const ConnId id = loop.adopt(p.server, c);
  loop.pauseRecv(id);
  int iterations = 0;
  runUntil(loop, [&] { return ++iterations > 5; });  // let the cancel land
  const char msg[] = "held while paused";
  ASSERT_EQ(::send(p.peer, msg, sizeof msg, 0), static_cast<ssize_t>(sizeof msg));
  iterations = 0;
  runUntil(loop, [&] { return ++iterations > 20; });
  EXPECT_TRUE(c.received[id.slot].empty());
  loop.resumeRecv(id);
  ASSERT_TRUE(runUntil(loop, [&] { return c.received[id.slot].size() == sizeof msg; }));
  EXPECT_EQ(std::memcmp(c.received[id.slot].data(), msg, sizeof msg), 0);
  loop.close(id, false);
  runUntil(loop, [&] { return loop.connectionCount() == 0; });
  ::close(p.peer);
}

TEST(Loop, ACapOnReadingHoldsToWithinOneReceiveBuffer) {
  Loop::Options o;
  o.recvBufferSize = 16384;
  Loop loop(o);
  Collector c;
  Pair p = loopbackPair();
  const ConnId id = loop.adopt(p.server, c);
  constexpr std::size_t kCap = 100000;
  loop.limitRecv(id, kCap);
  constexpr std::size_t kBytes = 4 << 20;
  std::thread sender([&] {
    std::vector<char> data(kBytes, 'x');
    std::size_t sent = 0;
    while (sent < kBytes) {
      const ssize_t n = ::send(p.peer, data.data() + sent, kBytes - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
  });
  // A fast sender: give the kernel every chance to run past the cap.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(800);
  while (std::chrono::steady_clock::now() < until) loop.poll(1'000'000);
  const std::size_t held = c.received[id.slot].size();
  if (!loop.recvLimitSupported()) {
    loop.limitRecv(id, Loop::kNoLimit);
    runUntil(loop, [&] { return c.received[id.slot].size() == kBytes; });
    sender.join();
    loop.close(id, false);
    runUntil(loop, [&] { return loop.connectionCount() == 0; });
    ::close(p.peer);
    GTEST_SKIP() << "the kernel cannot cap multishot receives (Linux 6.17 can); read " << held;
  }
  EXPECT_GE(held, kCap) << "reading stops at the cap, not before";
  EXPECT_LE(held, kCap + o.recvBufferSize) << "at most one receive buffer past it";
  // Lifting the cap reads the rest, all of it.
  loop.limitRecv(id, Loop::kNoLimit);
  ASSERT_TRUE(runUntil(loop, [&] { return c.received[id.slot].size() == kBytes; }));
  sender.join();
  loop.close(id, false);
  runUntil(loop, [&] { return loop.connectionCount() == 0; });
  ::close(p.peer);
}

TEST(Loop, ATinySubmissionQueueStillTakesEveryOperation) {
  // More operations in one batch than the ring has entries: sqe() submits
  // to make room, and nothing is lost.
  Loop::Options o;
  o.ringEntries = 8;
  Loop loop(o);
  Collector c;
  std::vector<Pair> pairs;
  std::vector<ConnId> ids;
  for (int i = 0; i < 64; ++i) {
    pairs.push_back(loopbackPair());
    ids.push_back(loop.adopt(pairs.back().server, c));
  }
  for (int i = 0; i < 64; ++i) {
    const char b = static_cast<char>('A' + i % 26);
    ASSERT_EQ(::send(pairs[i].peer, &b, 1, 0), 1);
  }
  ASSERT_TRUE(runUntil(loop, [&] {
    for (ConnId id : ids) {
      if (c.received[id.slot].empty()) return false;
    }
    return true;
  }));
  for (ConnId id : ids) loop.close(id, false);
  runUntil(loop, [&] { return loop.connectionCount() == 0; });
  for (auto& pr : pairs) ::close(pr.peer);
}

}  // namespace
}  // namespace wsedge::io
