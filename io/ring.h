// One io_uring per worker, set up for a single thread that both submits and
// reaps. Construction fails with a message naming the kernel feature that is
// missing, so that start-up can say exactly what the machine lacks.
#pragma once

#include <liburing.h>

#include <cstdint>

namespace wsedge::io {

class Ring {
 public:
  explicit Ring(std::uint32_t entries);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  io_uring& get() { return ring_; }
  /// A free submission entry; submits pending ones first if the queue is full.
  io_uring_sqe* sqe();
  /// Submission entries taken so far.
  std::uint64_t taken() const { return taken_; }

 private:
  io_uring ring_{};
  std::uint64_t taken_ = 0;
};

}  // namespace wsedge::io
