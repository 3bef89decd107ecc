// Tasks for a loop's thread, posted from any thread. A post from another
// thread takes a short lock and wakes the loop through an eventfd (written
// once per batch of posts, not once per post); a post from the loop's own
// thread only appends to a local list. Either way the task runs on the loop
// thread after the completions being handled, and the tasks of one poster
// run in the order it posted them. io knows nothing of what is posted.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace wsedge::io {

class Mailbox {
 public:
  using Task = std::function<void()>;

  /// Throws if no eventfd can be made (at start-up, never on the data path).
  Mailbox();
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  /// Any thread.
  void post(Task task);

  /// The loop's side: the eventfd it reads to wake up, the thread it runs
  /// on (set once, before the first post from another thread), and the
  /// call that runs what has been posted. Returns how many tasks ran.
  int fd() const { return fd_; }
  void bindToThisThread() { owner_ = std::this_thread::get_id(); }
  std::size_t run();
  bool empty() const { return local_.empty() && !remote_.load(std::memory_order_acquire); }

 private:
  int fd_ = -1;
  std::thread::id owner_;
  std::vector<Task> local_;  // posted on the loop thread: no lock
  std::mutex mutex_;
  std::vector<Task> queue_;          // posted by other threads, under mutex_
  std::atomic<bool> remote_{false};  // queue_ is not empty
  bool signalled_ = false;           // under mutex_: the eventfd was written
  std::vector<Task> running_;
};

}  // namespace wsedge::io
