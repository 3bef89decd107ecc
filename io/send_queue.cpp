#include "io/send_queue.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace wsedge::io {

using Chunk = ChunkPool::Chunk;

SharedBytes* SharedBytes::copyOf(std::span<const std::byte> bytes) {
  void* p = std::malloc(sizeof(SharedBytes) + bytes.size());
  if (!p) throw std::bad_alloc();
  auto* b = new (p) SharedBytes();
  b->size_ = static_cast<std::uint32_t>(bytes.size());
  if (!bytes.empty()) std::memcpy(b + 1, bytes.data(), bytes.size());
  return b;
}

void SharedBytes::unref() {
  if (--refs_ == 0) std::free(this);
}

ChunkPool::~ChunkPool() {
  for (auto& list : free_) {
    for (Chunk* c : list) std::free(c);
  }
}

Chunk* ChunkPool::get(std::size_t minCap) {
  std::size_t cls = 0;
  while (cls < std::size(kClasses) && kClasses[cls] < minCap) ++cls;
  Chunk* c;
  std::size_t cap;
  if (cls < std::size(kClasses) && !free_[cls].empty()) {
    c = free_[cls].back();
    free_[cls].pop_back();
    cap = c->cap;
    freeBytes_ -= cap;
  } else {
    cap = cls < std::size(kClasses) ? kClasses[cls] : minCap;
    c = static_cast<Chunk*>(std::malloc(sizeof(Chunk) + cap));
    if (!c) throw std::bad_alloc();
  }
  *c = Chunk{nullptr, static_cast<std::uint32_t>(cap), 0, 0, 0, nullptr};
  inUse_ += cap;
  return c;
}

void ChunkPool::put(Chunk* c) {
  if (c->shared) c->shared->unref();
  c->shared = nullptr;
  inUse_ -= c->cap;
  for (std::size_t cls = 0; cls < std::size(kClasses); ++cls) {
    if (c->cap == kClasses[cls] && freeBytes_ + c->cap <= kMaxFreeBytes) {
      free_[cls].push_back(c);
      freeBytes_ += c->cap;
      return;
    }
  }
  std::free(c);
}

void ChunkPool::decay() {
  if (freeBytes_ <= kKeepBytes) return;
  std::size_t release = (freeBytes_ - kKeepBytes) / 4 * 3;
  // The largest chunks first: fewest calls to the allocator.
  for (std::size_t cls = std::size(kClasses); cls-- > 0 && release > 0;) {
    std::vector<Chunk*>& list = free_[cls];
    while (!list.empty() && release > 0) {
      Chunk* c = list.back();
      list.pop_back();
      freeBytes_ -= c->cap;
      release -= std::min<std::size_t>(release, c->cap);
      std::free(c);
    }
  }
}

SendQueue::SendQueue(SendQueue&& o) noexcept
    : pool_(o.pool_),
      head_(o.head_),
      tail_(o.tail_),
      firstUncommitted_(o.firstUncommitted_),
      pending_(o.pending_),
      uncommitted_(o.uncommitted_),
      totalSent_(o.totalSent_) {
  o.head_ = o.tail_ = o.firstUncommitted_ = nullptr;
  o.pending_ = o.uncommitted_ = 0;
}

std::byte* SendQueue::reserve(std::size_t n, std::size_t expected) {
  if (!tail_ || tail_->shared || tail_->cap - tail_->written < n) {
    // Grow with the backlog: a queue that is backing up gets bigger chunks,
    // and never one smaller than the reservation. Only the first chunk of
    // an empty queue may be small: a queue that grows a chain is busy.
    // What is only expected takes a page at most: a peer that announces a
    // large frame and sends nothing must not make the queue hold it.
    constexpr std::size_t kMaxGrowth = 65536;
    std::size_t want = std::max({n, std::min<std::size_t>(expected, ChunkPool::kClasses[1]),
                                 std::min<std::size_t>(pending_ / 2, kMaxGrowth)});
    if (tail_) want = std::max<std::size_t>(want, ChunkPool::kClasses[1]);
    Chunk* c = pool_->get(want);
    if (tail_) {
      tail_->next = c;
    } else {
      head_ = c;
    }
    tail_ = c;
  }
  if (uncommitted_ == 0) firstUncommitted_ = tail_;
  std::byte* p = tail_->data() + tail_->written;
  tail_->written += static_cast<std::uint32_t>(n);
  uncommitted_ += n;
  return p;
}

void SendQueue::write(std::span<const std::byte> bytes) {
  if (!bytes.empty()) std::memcpy(reserve(bytes.size()), bytes.data(), bytes.size());
}

void SendQueue::append(SharedBytes& bytes) {
  const auto size = static_cast<std::uint32_t>(bytes.bytes().size());
  if (size == 0) return;
  Chunk* c = pool_->get(0);  // a node: the bytes stay where they are
  bytes.ref();
  c->shared = &bytes;
  c->written = c->committed = size;
  if (tail_) {
    tail_->next = c;
  } else {
    head_ = c;
  }
  tail_ = c;
  pending_ += size;
}

void SendQueue::commit() {
  if (uncommitted_ == 0) return;
  for (Chunk* c = firstUncommitted_; c; c = c->next) c->committed = c->written;
  pending_ += uncommitted_;
  uncommitted_ = 0;
  firstUncommitted_ = nullptr;
}

void SendQueue::rollback() {
  if (uncommitted_ == 0) return;
  // The uncommitted bytes are a suffix starting in firstUncommitted_: cut
  // that chunk back to its commit mark and free every chunk after it.
  Chunk* c = firstUncommitted_;
  Chunk* rest = c->next;
  c->next = nullptr;
  c->written = c->committed;
  tail_ = c;
  while (rest) {
    Chunk* next = rest->next;
    pool_->put(rest);
    rest = next;
  }
  if (c->sent == c->written) {
    // Nothing left to send in it: unlink it (rollback is rare; walking is fine).
    Chunk* prev = nullptr;
    for (Chunk* p = head_; p != c; p = p->next) prev = p;
    if (prev) {
      prev->next = nullptr;
    } else {
      head_ = nullptr;
    }
    tail_ = prev;
    pool_->put(c);
  }
  uncommitted_ = 0;
  firstUncommitted_ = nullptr;
}

void SendQueue::copyUncommitted(std::size_t offset, std::byte* dst, std::size_t n) const {
  for (Chunk* c = firstUncommitted_; c && n > 0; c = c->next) {
    // In the first chunk the uncommitted bytes start at its commit mark.
    const std::size_t start = c == firstUncommitted_ ? c->committed : 0;
    const std::size_t have = c->written - start;
    if (offset >= have) {
      offset -= have;
      continue;
    }
    const std::size_t take = std::min(n, have - offset);
    std::memcpy(dst, c->data() + start + offset, take);
    dst += take;
    n -= take;
    offset = 0;
  }
}

void SendQueue::clear() {
  while (head_) {
    Chunk* next = head_->next;
    pool_->put(head_);
    head_ = next;
  }
  tail_ = firstUncommitted_ = nullptr;
  pending_ = uncommitted_ = 0;
}

std::size_t SendQueue::gather(iovec* iov, std::size_t max) const {
  std::size_t n = 0;
  for (Chunk* c = head_; c && n < max && c->committed > c->sent; c = c->next) {
    iov[n].iov_base = const_cast<std::byte*>(c->bytes()) + c->sent;
    iov[n].iov_len = c->committed - c->sent;
    ++n;
    if (c->committed < c->written) break;  // the rest is uncommitted
  }
  return n;
}

void SendQueue::consume(std::size_t n) {
  pending_ -= n;
  totalSent_ += n;
  while (n > 0 && head_) {
    const std::size_t avail = head_->committed - head_->sent;
    const std::size_t take = n < avail ? n : avail;
    head_->sent += static_cast<std::uint32_t>(take);
    n -= take;
    if (head_->sent == head_->written) {
      // Fully sent and nothing uncommitted in it: back to the pool.
      Chunk* next = head_->next;
      pool_->put(head_);
      head_ = next;
      if (!head_) tail_ = nullptr;
    }
  }
}

}  // namespace wsedge::io
