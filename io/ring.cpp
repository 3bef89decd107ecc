#include "io/ring.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace wsedge::io {
namespace {

struct Feature {
  unsigned flag;
  const char* name;
  const char* why;
};

// Each flag, and why the worker wants it. Checked one by one when the
// combination is refused, to name the one the kernel lacks.
constexpr Feature kFlags[] = {
    {IORING_SETUP_SINGLE_ISSUER, "IORING_SETUP_SINGLE_ISSUER (Linux 6.0)",
     "one thread owns the ring, so the kernel can skip cross-thread locking"},
    {IORING_SETUP_DEFER_TASKRUN, "IORING_SETUP_DEFER_TASKRUN (Linux 6.1)",
     "completion work runs only when the worker asks for events: no interrupts mid-batch"},
    {IORING_SETUP_COOP_TASKRUN, "IORING_SETUP_COOP_TASKRUN (Linux 5.19)",
     "no inter-processor interrupts to run completion work"},
    {IORING_SETUP_SUBMIT_ALL, "IORING_SETUP_SUBMIT_ALL (Linux 5.18)",
     "one failing submission does not stop the rest of the batch"},
    {IORING_SETUP_CQSIZE, "IORING_SETUP_CQSIZE (Linux 5.5)",
     "a completion queue four times the submission queue absorbs bursts"},
};

constexpr struct {
  int op;
  const char* name;
} kOps[] = {
    {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},   {IORING_OP_RECV, "IORING_OP_RECV"},
    {IORING_OP_SEND, "IORING_OP_SEND"},       {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"},
    {IORING_OP_CONNECT, "IORING_OP_CONNECT"}, {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
    {IORING_OP_READ, "IORING_OP_READ"},       {IORING_OP_SHUTDOWN, "IORING_OP_SHUTDOWN"},
};

}  // namespace

Ring::Ring(std::uint32_t entries) {
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN |
            IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
  p.cq_entries = entries * 4;
  int rc = io_uring_queue_init_params(entries, &ring_, &p);
  if (rc == -EINVAL) {
    for (const Feature& f : kFlags) {
      io_uring_params one{};
      one.flags = f.flag | (f.flag == IORING_SETUP_DEFER_TASKRUN ? IORING_SETUP_SINGLE_ISSUER : 0);
      one.cq_entries = entries * 4;
      io_uring probe{};
      if (io_uring_queue_init_params(8, &probe, &one) == -EINVAL) {
        throw std::runtime_error(std::string("the kernel lacks ") + f.name + ", needed because " +
                                 f.why);
      }
      io_uring_queue_exit(&probe);
    }
  }
  if (rc < 0) {
    throw std::runtime_error(std::string("io_uring_setup failed: ") + std::strerror(-rc) +
                             (rc == -ENOMEM || rc == -EPERM
                                  ? " (io_uring disabled, or locked-memory limit too low?)"
                                  : ""));
  }
  if (!(p.features & IORING_FEAT_NODROP)) {
    io_uring_queue_exit(&ring_);
    throw std::runtime_error(
        "the kernel lacks IORING_FEAT_NODROP (Linux 5.5): completions could be lost");
  }
  if (!(p.features & IORING_FEAT_EXT_ARG)) {
    io_uring_queue_exit(&ring_);
    throw std::runtime_error(
        "the kernel lacks IORING_FEAT_EXT_ARG (Linux 5.11): cannot wait with a timeout");
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (!probe) {
    io_uring_queue_exit(&ring_);
    throw std::runtime_error("the kernel lacks IORING_REGISTER_PROBE (Linux 5.6)");
  }
  for (const auto& op : kOps) {
    if (!io_uring_opcode_supported(probe, op.op)) {
      io_uring_free_probe(probe);
      io_uring_queue_exit(&ring_);
      throw std::runtime_error(std::string("the kernel lacks ") + op.name);
    }
  }
  io_uring_free_probe(probe);
}

Ring::~Ring() {
  io_uring_queue_exit(&ring_);
}

io_uring_sqe* Ring::sqe() {
  ++taken_;
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (s) return s;
  // The queue is full: submit it to make room. (Checked by a test with an
  // 8-entry ring and 64 connections in one batch.)
  const int rc = io_uring_submit(&ring_);
  s = io_uring_get_sqe(&ring_);
  if (!s) {
    // Nothing was taken: the kernel refused the batch. Every operation is
    // owed a completion, so going on would strand connections for good.
    std::fprintf(stderr, "wsedge: io_uring_submit failed with a full queue: %s\n",
                 std::strerror(rc < 0 ? -rc : EBUSY));
    std::abort();
  }
  return s;
}

}  // namespace wsedge::io
