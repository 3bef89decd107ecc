// A hashed timing wheel: O(1) schedule and cancel, with intrusive timers
// embedded in their owners (no allocation). It drives the handshake,
// connect, idle and close timeouts of every connection on a worker.
//
// Resolution is one tick (100 ms by default); a timer fires on the first
// advance() at or after its deadline. Deadlines beyond one turn of the wheel
// wait out the extra turns in their slot.
#pragma once

#include <cstdint>
#include <vector>

namespace wsedge::io {

class Timer;

class TimerHandler {
 public:
  virtual void onTimer(Timer& timer) = 0;

 protected:
  ~TimerHandler() = default;
};

class Timer {
 public:
  explicit Timer(TimerHandler* handler = nullptr) : handler_(handler) {}
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer();  // cancels

  bool scheduled() const { return wheel_ != nullptr; }
  std::uint64_t deadline() const { return deadline_; }
  void setHandler(TimerHandler* h) { handler_ = h; }
  void cancel();

 private:
  friend class TimerWheel;
  TimerHandler* handler_;
  class TimerWheel* wheel_ = nullptr;
  Timer* prev_ = nullptr;
  Timer* next_ = nullptr;
  std::uint64_t deadline_ = 0;
  bool expired_ = false;  // on the wheel's expired list, about to fire
};

class TimerWheel {
 public:
  /// slots must be a power of two.
  explicit TimerWheel(std::uint64_t nowMs, std::uint32_t tickMs = 100, std::uint32_t slots = 4096);
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  /// (Re)schedules the timer to fire at deadlineMs.
  void schedule(Timer& timer, std::uint64_t deadlineMs);
  void scheduleIn(Timer& timer, std::uint64_t delayMs) { schedule(timer, nowMs_ + delayMs); }
  static void cancel(Timer& timer);

  /// Fires every timer whose deadline is at or before nowMs. Handlers may
  /// schedule and cancel any timer, including the one firing.
  void advance(std::uint64_t nowMs);

  std::uint64_t now() const { return nowMs_; }
  std::uint32_t tickMs() const { return tickMs_; }
  std::size_t size() const { return count_; }

 private:
  void link(Timer& t);
  Timer*& headOf(const Timer& t) { return t.expired_ ? expired_ : slots_[slotOf(t.deadline_)]; }
  std::size_t slotOf(std::uint64_t deadlineMs) const {
    return static_cast<std::size_t>(deadlineMs / tickMs_) & mask_;
  }

  std::uint64_t nowMs_;
  std::uint64_t lastTick_;
  std::uint32_t tickMs_;
  std::size_t mask_;
  std::size_t count_ = 0;
  std::vector<Timer*> slots_;
  Timer* expired_ = nullptr;  // due timers, fired after the slots are walked
};

}  // namespace wsedge::io
