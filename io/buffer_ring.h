// A provided-buffer ring (IORING_REGISTER_PBUF_RING): one per worker, shared
// by every connection's multishot recv. The kernel picks a buffer when data
// arrives, so an idle connection holds no receive buffer at all.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace wsedge::io {

class BufferRing {
 public:
  /// count must be a power of two (at most 32768). Throws on failure.
  BufferRing(io_uring& ring, std::uint16_t groupId, std::uint32_t count, std::uint32_t size);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  std::uint16_t groupId() const { return groupId_; }
  std::uint32_t bufferSize() const { return size_; }
  std::span<std::byte> data(std::uint16_t bid, std::size_t len) {
    return {base_ + std::size_t{bid} * size_, len};
  }
  /// Hands a buffer back to the kernel.
  void recycle(std::uint16_t bid);

 private:
  io_uring& ring_;
  io_uring_buf_ring* br_ = nullptr;
  std::byte* base_ = nullptr;
  std::size_t ringBytes_ = 0;
  std::uint16_t groupId_;
  std::uint32_t count_;
  std::uint32_t size_;
};

}  // namespace wsedge::io
