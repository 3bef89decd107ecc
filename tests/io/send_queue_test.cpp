#include "io/send_queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace wsedge::io {
namespace {

std::string pendingText(const SendQueue& q) {
  iovec iov[64];
  const std::size_t n = q.gather(iov, 64);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
  return s;
}

void put(SendQueue& q, const std::string& s) {
  q.write(std::as_bytes(std::span(s)));
}

TEST(SendQueue, OnlyCommittedBytesAreSent) {
  ChunkPool pool;
  SendQueue q(pool);
  put(q, "hello ");
  EXPECT_EQ(q.pending(), 0u);
  EXPECT_EQ(pendingText(q), "");
  q.commit();
  put(q, "world");
  EXPECT_EQ(pendingText(q), "hello ");
  q.commit();
  EXPECT_EQ(pendingText(q), "hello world");
  EXPECT_EQ(q.pending(), 11u);
}

TEST(SendQueue, RollbackDropsOnlyTheUncommittedSuffix) {
  ChunkPool pool;
  SendQueue q(pool);
  put(q, "keep");
  q.commit();
  put(q, "drop");
  std::memset(q.reserve(100000), 'x', 100000);  // spills into a new chunk
  q.rollback();
  EXPECT_EQ(q.uncommitted(), 0u);
  EXPECT_EQ(pendingText(q), "keep");
  put(q, "+more");
  q.commit();
  EXPECT_EQ(pendingText(q), "keep+more");
}

TEST(SendQueue, RollbackOfAFreshChunkKeepsEarlierChunks) {
  ChunkPool pool;
  SendQueue q(pool);
  std::string big(ChunkPool::kClasses[1] - 10, 'a');
  put(q, big);
  q.commit();
  std::memset(q.reserve(200), 'b', 200);  // does not fit: a new chunk
  q.rollback();
  EXPECT_EQ(pendingText(q), big);
}

TEST(SendQueue, ConsumeAcrossChunksAndReturnsThemToThePool) {
  ChunkPool pool;
  SendQueue q(pool);
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    const std::string piece(1000 + i, static_cast<char>('a' + i % 26));
    put(q, piece);
    q.commit();
    expected += piece;
  }
  EXPECT_GT(pool.bytesInUse(), 0u);
  std::size_t sent = 0;
  while (q.pending() > 0) {
    iovec iov[4];
    const std::size_t n = q.gather(iov, 4);
    ASSERT_GT(n, 0u);
    // A short write: half of the first iovec, or one byte.
    const std::size_t take = std::max<std::size_t>(1, iov[0].iov_len / 2);
    ASSERT_EQ(std::string(static_cast<char*>(iov[0].iov_base), take), expected.substr(sent, take));
    q.consume(take);
    sent += take;
  }
  EXPECT_EQ(sent, expected.size());
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(pool.bytesInUse(), 0u) << "a drained queue holds no chunk";
}

TEST(SendQueue, BigReservationBehindABigBacklog) {
  // A large backlog once made the queue pick a chunk by backlog alone,
  // smaller than the reservation itself.
  ChunkPool pool;
  SendQueue q(pool);
  for (int i = 0; i < 20; ++i) {
    std::memset(q.reserve(60000), 'a', 60000);
    q.commit();
  }
  std::byte* p = q.reserve(131086);
  std::memset(p, 'b', 131086);  // ASan catches any overrun
  q.commit();
  EXPECT_EQ(q.pending(), 20u * 60000 + 131086);
}

TEST(SendQueue, ASmallWriteToAnEmptyQueueTakesASmallChunkAndAFrameFitsOneChunk) {
  ChunkPool pool;
  SendQueue q(pool);
  put(q, "a ping");
  q.commit();
  EXPECT_LE(pool.bytesInUse(), 256u) << "not a page per ping";
  SendQueue frame(pool);
  const std::size_t before = pool.bytesInUse();
  frame.reserve(4, 4 + 3000);  // a header, for a 3000-byte payload to come
  const std::size_t chunk = pool.bytesInUse() - before;
  EXPECT_GE(chunk, 3004u);
  frame.reserve(3000);
  EXPECT_EQ(pool.bytesInUse() - before, chunk) << "the payload went into the same chunk";
  SendQueue announced(pool);
  announced.reserve(10, 10 + (1 << 20));
  EXPECT_LE(pool.bytesInUse() - before - chunk, 4096u) << "what is only announced takes a page";
  put(q, std::string(300, 'x'));  // a queue that grows a chain gets full-size chunks
  EXPECT_GE(pool.bytesInUse() - chunk - before, 4000u);
}

TEST(SendQueue, ReserveIsContiguous) {
  ChunkPool pool;
  SendQueue q(pool);
  put(q, "x");
  std::byte* p = q.reserve(70000);
  std::memset(p, 'y', 70000);  // must not overflow (ASan checks)
  q.commit();
  EXPECT_EQ(q.pending(), 70001u);
}

TEST(SendQueue, UncommittedBytesCanBeReadBackAcrossChunks) {
  ChunkPool pool;
  SendQueue q(pool);
  put(q, "sent already|");
  q.commit();
  // 200 bytes in a small first chunk, then more than it holds.
  const std::string gathered = std::string(200, 'a') + std::string(5000, 'b') + "end";
  put(q, gathered.substr(0, 200));
  put(q, gathered.substr(200));
  std::string back(gathered.size(), '?');
  q.copyUncommitted(0, reinterpret_cast<std::byte*>(back.data()), back.size());
  EXPECT_EQ(back, gathered);
  std::string mid(10, '?');
  q.copyUncommitted(195, reinterpret_cast<std::byte*>(mid.data()), mid.size());
  EXPECT_EQ(mid, "aaaaabbbbb");
  q.rollback();
  EXPECT_EQ(pendingText(q), "sent already|");
}

TEST(SendQueue, SharedBytesAreQueuedWithoutACopyAndFreedByTheLastQueue) {
  ChunkPool pool;
  SendQueue a(pool), b(pool);
  const std::string message(10000, 'm');
  SharedBytes* shared = SharedBytes::copyOf(std::as_bytes(std::span(message)));
  put(a, "before|");
  a.commit();
  a.append(*shared);
  b.append(*shared);
  shared->unref();  // the queues hold theirs (ASan finds a leak or a double free)
  put(a, "|after");
  a.commit();
  EXPECT_EQ(pendingText(a), "before|" + message + "|after");
  iovec iov[8];
  ASSERT_EQ(b.gather(iov, 8), 1u);
  EXPECT_EQ(static_cast<const void*>(iov[0].iov_base),
            static_cast<const void*>(shared->bytes().data()))
      << "b sends the shared bytes themselves";
  a.consume(7 + 4000);  // partly sent
  EXPECT_EQ(pendingText(a), message.substr(4000) + "|after");
  a.consume(a.pending());
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(pendingText(b), message) << "still b's after a let go";
  // Written after shared bytes and rolled back: they stay.
  put(b, "never");
  b.rollback();
  EXPECT_EQ(pendingText(b), message);
  b.clear();
}

}  // namespace
}  // namespace wsedge::io
