#include "io/timer_wheel.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace wsedge::io {
namespace {

struct Recorder final : TimerHandler {
  std::vector<std::string> fired;
  std::function<void(Timer&)> also;
  std::map<Timer*, std::string> names;
  void onTimer(Timer& t) override {
    fired.push_back(names[&t]);
    if (also) also(t);
  }
};

TEST(TimerWheel, FiresAtOrAfterTheDeadlineNotBefore) {
  TimerWheel wheel(1000, 100, 64);
  Recorder rec;
  Timer a(&rec), b(&rec);
  rec.names = {{&a, "a"}, {&b, "b"}};
  wheel.schedule(a, 1250);
  wheel.schedule(b, 1500);
  wheel.advance(1240);
  EXPECT_TRUE(rec.fired.empty());
  wheel.advance(1260);
  EXPECT_EQ(rec.fired, (std::vector<std::string>{"a"}));
  EXPECT_FALSE(a.scheduled());
  EXPECT_TRUE(b.scheduled());
  wheel.advance(2000);
  EXPECT_EQ(rec.fired, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, DeadlinesBeyondOneTurnWaitTheirTurn) {
  TimerWheel wheel(0, 10, 8);  // one turn is 80 ms
  Recorder rec;
  Timer far(&rec);
  rec.names = {{&far, "far"}};
  wheel.schedule(far, 250);  // same slot as 10, 90, 170
  for (std::uint64_t t = 0; t < 250; t += 10) {
    wheel.advance(t);
    ASSERT_TRUE(rec.fired.empty()) << t;
  }
  wheel.advance(250);
  EXPECT_EQ(rec.fired.size(), 1u);
}

TEST(TimerWheel, JumpsLongerThanATurnFireEverythingDue) {
  TimerWheel wheel(0, 10, 8);
  Recorder rec;
  Timer t1(&rec), t2(&rec), t3(&rec);
  rec.names = {{&t1, "1"}, {&t2, "2"}, {&t3, "3"}};
  wheel.schedule(t1, 15);
  wheel.schedule(t2, 500);
  wheel.schedule(t3, 5000);
  wheel.advance(1000);
  EXPECT_EQ(rec.fired.size(), 2u);
  EXPECT_TRUE(t3.scheduled());
}

TEST(TimerWheel, CancelAndRescheduleFromAHandler) {
  TimerWheel wheel(0, 10, 16);
  Recorder rec;
  Timer a(&rec), b(&rec), c(&rec);
  rec.names = {{&a, "a"}, {&b, "b"}, {&c, "c"}};
  wheel.schedule(a, 50);
  wheel.schedule(b, 50);
  wheel.schedule(c, 50);
  // Whichever fires first cancels the other two and reschedules itself.
  rec.also = [&](Timer& t) {
    for (Timer* o : {&a, &b, &c}) {
      if (o != &t) o->cancel();
    }
    if (rec.fired.size() == 1) wheel.schedule(t, 200);
  };
  wheel.advance(60);
  ASSERT_EQ(rec.fired.size(), 1u) << "cancelled timers on the due list must not fire";
  wheel.advance(210);
  EXPECT_EQ(rec.fired.size(), 2u);
  EXPECT_EQ(rec.fired[0], rec.fired[1]);
}

TEST(TimerWheel, DestroyingAScheduledTimerCancelsIt) {
  TimerWheel wheel(0, 10, 16);
  Recorder rec;
  {
    Timer t(&rec);
    wheel.schedule(t, 30);
    EXPECT_EQ(wheel.size(), 1u);
  }
  EXPECT_EQ(wheel.size(), 0u);
  wheel.advance(100);
  EXPECT_TRUE(rec.fired.empty());
}

}  // namespace
}  // namespace wsedge::io
