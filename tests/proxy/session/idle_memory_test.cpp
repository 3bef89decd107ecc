// 10,000 idle sessions hold no payload buffer: every session is taken
// through to an open tunnel, carries a message each way, then goes quiet;
// a counting allocator (this binary's operator new) shows what is still
// held. Its own binary, so that the unit tests keep the ordinary allocator.
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "tests/proxy/session/session_fixture.h"

namespace {

// Larger than any part of a session (the Session itself is about 1.2 KiB);
// a receive buffer is 16 KiB. Send-queue chunks are counted by their pool.
constexpr std::size_t kPayloadSized = 2048;
std::atomic<long> liveBytes{0};
std::atomic<long> liveLarge{0};  // allocations of kPayloadSized or more

[[maybe_unused]] void counted(void* p, long sign) {
  const std::size_t n = malloc_usable_size(p);
  liveBytes += sign * static_cast<long>(n);
  if (n >= kPayloadSized) liveLarge += sign;
}

}  // namespace

// The sanitizer build keeps its own allocator (it checks every new and
// delete); there only the send-queue chunks are counted.
#ifndef WSEDGE_SANITIZED
constexpr bool kCounting = true;
void* operator new(std::size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  counted(p, 1);
  return p;
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void operator delete(void* p) noexcept {
  if (!p) return;
  counted(p, -1);
  std::free(p);
}
void operator delete[](void* p) noexcept {
  operator delete(p);
}
void operator delete(void* p, std::size_t) noexcept {
  operator delete(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  operator delete(p);
}
#else
constexpr bool kCounting = false;
#endif

namespace wsedge::proxy {
namespace {

class IdleMemoryTest : public SessionTest {};

TEST_F(IdleMemoryTest, TenThousandIdleSessionsHoldNoPayloadBuffer) {
  constexpr int kSessions = 10000;
  std::vector<std::pair<std::shared_ptr<testing::FakePeer>, std::shared_ptr<testing::FakePeer>>>
      peers;
  peers.reserve(kSessions);
  live_.reserve(kSessions);
  const std::string hello = frame(ws::Opcode::kText, "hello", true);
  const std::string reply = frame(ws::Opcode::kText, "world", false);
  // One session first: the pools every session shares (chunks, buffers)
  // are made by it, not counted against the rest.
  auto first = openTunnel();
  first.first->send(hello);
  first.second->send(reply);
  first.first->take();
  first.second->take();

  const long bytesBefore = liveBytes.load();
  const long largeBefore = liveLarge.load();
  for (int i = 0; i < kSessions; ++i) {
    auto [client, backend] = openTunnel();
    client->send(hello);
    backend->send(reply);
    ASSERT_EQ(atBackend(backend->take()).list.at(0).payload, "hello");
    ASSERT_EQ(atClient(client->take()).list.at(0).payload, "world");
    peers.emplace_back(std::move(client), std::move(backend));
  }
  ASSERT_EQ(live_.size(), static_cast<std::size_t>(kSessions) + 1);
  const long perSession = (liveBytes.load() - bytesBefore) / kSessions;
  const long large = liveLarge.load() - largeBefore;
  std::printf(
      "%d idle sessions: %ld heap bytes each (sessions, fake sockets and test peers), "
      "%ld allocations of %zu B or more, %zu B of send-queue chunks in use\n",
      kSessions, perSession, large, kPayloadSized, net_.chunks().bytesInUse());
  // A buffer per session would be 10,000 of them; what may grow is a few
  // containers of the test and the worker (their size doubling).
  if (kCounting) {
    EXPECT_LT(large, 64);
  }
  // And no send-queue chunk, of any size, is held by a quiet session.
  EXPECT_EQ(net_.chunks().bytesInUse(), 0u);
}

}  // namespace
}  // namespace wsedge::proxy
