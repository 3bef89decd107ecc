#include "io/buffer_ring.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace wsedge::io {

BufferRing::BufferRing(io_uring& ring, std::uint16_t groupId, std::uint32_t count,
                       std::uint32_t size)
    : ring_(ring), groupId_(groupId), count_(count), size_(size) {
  ringBytes_ = count * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, ringBytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error("cannot map the buffer ring");
  br_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(br_);
  reg.ring_entries = count;
  reg.bgid = groupId;
  if (const int rc = io_uring_register_buf_ring(&ring_, &reg, 0); rc != 0) {
    munmap(br_, ringBytes_);
    throw std::runtime_error(
        "the kernel lacks provided buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19+): " +
        std::string(std::strerror(-rc)));
  }
  // Buffer memory is mapped, not touched: pages become resident only as the
  // kernel first fills each buffer.
  void* bufs = mmap(nullptr, std::size_t{count} * size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (bufs == MAP_FAILED) throw std::runtime_error("cannot map receive buffers");
  base_ = static_cast<std::byte*>(bufs);
  io_uring_buf_ring_init(br_);
  const int mask = io_uring_buf_ring_mask(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    io_uring_buf_ring_add(br_, base_ + std::size_t{i} * size, size, static_cast<std::uint16_t>(i),
                          mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br_, static_cast<int>(count));
}

BufferRing::~BufferRing() {
  io_uring_unregister_buf_ring(&ring_, groupId_);
  munmap(br_, ringBytes_);
  munmap(base_, std::size_t{count_} * size_);
}

void BufferRing::recycle(std::uint16_t bid) {
  io_uring_buf_ring_add(br_, base_ + std::size_t{bid} * size_, size_, bid,
                        io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
}

}  // namespace wsedge::io
