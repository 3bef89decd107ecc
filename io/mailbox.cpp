#include "io/mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace wsedge::io {

Mailbox::Mailbox() : owner_(std::this_thread::get_id()) {
  // Blocking: the loop reads it through io_uring, which then waits for a
  // post instead of completing at once with EAGAIN. Writes never block (the
  // counter would have to reach 2^64 - 1).
  fd_ = eventfd(0, EFD_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

Mailbox::~Mailbox() {
  if (fd_ >= 0) ::close(fd_);
}

void Mailbox::post(Task task) {
  if (std::this_thread::get_id() == owner_) {
    local_.push_back(std::move(task));
    return;
  }
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
    remote_.store(true, std::memory_order_release);
    wake = !signalled_;
    signalled_ = true;
  }
  if (wake) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
  }
}

std::size_t Mailbox::run() {
  std::size_t ran = 0;
  // Tasks may post more tasks; those run in this call too, in order.
  while (!empty()) {
    running_.clear();
    running_.swap(local_);
    if (remote_.load(std::memory_order_acquire)) {
      std::lock_guard lock(mutex_);
      for (Task& t : queue_) running_.push_back(std::move(t));
      queue_.clear();
      remote_.store(false, std::memory_order_relaxed);
      signalled_ = false;
    }
    for (Task& t : running_) {
      t();
      ++ran;
    }
  }
  running_.clear();
  return ran;
}

}  // namespace wsedge::io
