// Bytes waiting to be sent on one connection: a chain of pooled chunks. The
// writer reserves contiguous space at the tail and commits it when what it
// wrote may go out; only committed bytes are sent. That lets a relay gather a
// frame that arrives in pieces and send it whole, or drop it (rollback) if
// its source fails halfway. A drained queue returns its chunks to the pool,
// so an idle connection holds no send buffer.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace wsedge::io {

/// Bytes that many queues send (one message fanned out to many
/// connections): written once, read-only, counted by reference; the last
/// queue to let go of them frees them. One worker's: not thread-safe.
class SharedBytes {
 public:
  /// A copy of bytes, with one reference: the caller's.
  static SharedBytes* copyOf(std::span<const std::byte> bytes);
  void ref() { ++refs_; }
  void unref();
  std::span<const std::byte> bytes() const { return {data(), size_}; }

 private:
  SharedBytes() = default;
  const std::byte* data() const { return reinterpret_cast<const std::byte*>(this + 1); }
  std::uint32_t refs_ = 1;
  std::uint32_t size_ = 0;
};

/// Free lists of chunks by size class, one per worker (no locking).
class ChunkPool {
 public:
  struct Chunk {
    Chunk* next;
    std::uint32_t cap;
    std::uint32_t sent;       // bytes already sent
    std::uint32_t committed;  // bytes that may be sent
    std::uint32_t written;    // bytes written (committed or not)
    SharedBytes* shared;      // set: the bytes are these (written == their size), not data()
    std::byte* data() { return reinterpret_cast<std::byte*>(this + 1); }
    const std::byte* bytes() {
      return shared ? shared->bytes().data() : reinterpret_cast<std::byte*>(this + 1);
    }
  };

  // The smallest class holds a control frame or a short message alone in
  // an empty queue (a keepalive ping, a chat line): thousands of them sent
  // at once must not each pin a page.
  static constexpr std::uint32_t kClasses[] = {256 - sizeof(Chunk), 4096 - sizeof(Chunk),
                                               16384 - sizeof(Chunk), 65536 + 512 - sizeof(Chunk),
                                               262144 - sizeof(Chunk)};
  /// Free chunks kept for reuse, in bytes over all classes: beyond this
  /// high-water mark chunks go back to the allocator at once.
  static constexpr std::size_t kMaxFreeBytes = 64 << 20;
  /// What decay() never gives back.
  static constexpr std::size_t kKeepBytes = 1 << 20;

  ChunkPool() = default;
  ~ChunkPool();
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  /// A chunk with at least minCap bytes of room; larger than the biggest
  /// class means an unpooled allocation of exactly that size.
  Chunk* get(std::size_t minCap);
  void put(Chunk* c);
  /// Gives three quarters of the free chunks above kKeepBytes back to the
  /// allocator. Called once a second, it lets a busy pool stay warm while
  /// the memory of a burst comes back within seconds of its end.
  void decay();
  std::size_t bytesInUse() const { return inUse_; }
  std::size_t bytesFree() const { return freeBytes_; }

 private:
  std::vector<Chunk*> free_[std::size(kClasses)];
  std::size_t inUse_ = 0;
  std::size_t freeBytes_ = 0;
};

class SendQueue {
 public:
  explicit SendQueue(ChunkPool& pool) : pool_(&pool) {}
  ~SendQueue() { clear(); }
  SendQueue(SendQueue&& o) noexcept;
  SendQueue& operator=(SendQueue&&) = delete;
  SendQueue(const SendQueue&) = delete;

  /// n (> 0) contiguous bytes of room after everything written so far. The
  /// bytes are not sent until commit(). `expected` (at least n) is what the
  /// writer means to write in all (a frame whose header it writes first):
  /// a new chunk has room for it, up to a page.
  std::byte* reserve(std::size_t n, std::size_t expected = 0);
  /// Copies bytes in and reserves them (a convenience over reserve()).
  void write(std::span<const std::byte> bytes);
  /// Queues shared bytes without copying them, committed (taking a
  /// reference until they are sent). Nothing may be uncommitted.
  void append(SharedBytes& bytes);
  /// Everything written so far may be sent.
  void commit();
  /// Forgets what was written since the last commit.
  void rollback();
  /// Copies n uncommitted bytes, from `offset` into them, to dst (a writer
  /// that looks back at what it gathered before deciding to commit).
  void copyUncommitted(std::size_t offset, std::byte* dst, std::size_t n) const;
  void clear();

  /// Committed bytes not yet sent.
  std::size_t pending() const { return pending_; }
  /// Written bytes not yet committed.
  std::size_t uncommitted() const { return uncommitted_; }
  bool empty() const { return pending_ == 0 && uncommitted_ == 0; }

  /// Fills up to max iovecs with committed, unsent bytes; returns the count.
  std::size_t gather(iovec* iov, std::size_t max) const;
  /// n committed bytes were sent.
  void consume(std::size_t n);
  /// Every byte ever consumed (sent): a measure of progress.
  std::uint64_t totalSent() const { return totalSent_; }

 private:
  ChunkPool* pool_;
  ChunkPool::Chunk* head_ = nullptr;
  ChunkPool::Chunk* tail_ = nullptr;
  ChunkPool::Chunk* firstUncommitted_ = nullptr;  // where the uncommitted suffix starts
  std::size_t pending_ = 0;
  std::size_t uncommitted_ = 0;
  std::uint64_t totalSent_ = 0;
};

}  // namespace wsedge::io
