#include "io/timer_wheel.h"

namespace wsedge::io {

Timer::~Timer() {
  cancel();
}

void Timer::cancel() {
  TimerWheel::cancel(*this);
}

TimerWheel::TimerWheel(std::uint64_t nowMs, std::uint32_t tickMs, std::uint32_t slots)
    : nowMs_(nowMs), lastTick_(nowMs / tickMs), tickMs_(tickMs), mask_(slots - 1), slots_(slots) {}

TimerWheel::~TimerWheel() {
  auto release = [](Timer*& head) {
    while (head) {
      Timer* t = head;
      head = t->next_;
      t->wheel_ = nullptr;
      t->prev_ = t->next_ = nullptr;
      t->expired_ = false;
    }
  };
  for (Timer*& head : slots_) release(head);
  release(expired_);
}

void TimerWheel::link(Timer& t) {
  Timer*& head = slots_[slotOf(t.deadline_)];
  t.prev_ = nullptr;
  t.next_ = head;
  if (head) head->prev_ = &t;
  head = &t;
  t.wheel_ = this;
  ++count_;
}

void TimerWheel::schedule(Timer& timer, std::uint64_t deadlineMs) {
  cancel(timer);
  // A deadline in a tick already passed is served on the next advance.
  timer.deadline_ = deadlineMs < nowMs_ ? nowMs_ : deadlineMs;
  link(timer);
}

void TimerWheel::cancel(Timer& t) {
  TimerWheel* w = t.wheel_;
  if (!w) return;
  if (t.prev_) {
    t.prev_->next_ = t.next_;
  } else {
    w->headOf(t) = t.next_;
  }
  if (t.next_) t.next_->prev_ = t.prev_;
  t.prev_ = t.next_ = nullptr;
  t.wheel_ = nullptr;
  t.expired_ = false;
  --w->count_;
}

void TimerWheel::advance(std::uint64_t nowMs) {
  if (nowMs < nowMs_) return;
  nowMs_ = nowMs;
  const std::uint64_t tick = nowMs / tickMs_;
  // Walk each slot from the last tick seen (at most one full turn), moving
  // due timers to the expired list. No handler runs during the walk.
  const std::uint64_t first = lastTick_;
  const std::uint64_t last = tick - first > mask_ ? first + mask_ : tick;
  for (std::uint64_t t = first; t <= last; ++t) {
    Timer* timer = slots_[t & mask_];
    while (timer) {
      Timer* next = timer->next_;
      if (timer->deadline_ <= nowMs_) {  // else it waits for a later turn
        cancel(*timer);
        timer->wheel_ = this;
        timer->expired_ = true;
        timer->next_ = expired_;
        if (expired_) expired_->prev_ = timer;
        expired_ = timer;
        ++count_;
      }
      timer = next;
    }
  }
  lastTick_ = tick;
  // Fire. A handler may cancel a timer still on the list; then it never fires.
  while (expired_) {
    Timer* timer = expired_;
    cancel(*timer);
    if (timer->handler_) timer->handler_->onTimer(*timer);
  }
}

}  // namespace wsedge::io
