#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "proxy/pubsub/channels.h"
#include "proxy/pubsub/hub.h"

namespace wsedge::pubsub {
namespace {

TEST(Channels, FromThePathUnderThePrefixThenTheQuery) {
  ChannelRequest r = channelsOf("/live/news", "/live", "", 16);
  EXPECT_EQ(r.channels, std::vector<std::string>{"news"});
  r = channelsOf("/live", "/live", "?channel=a&channel=b%20c&x=1&channel=a", 16);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.channels, (std::vector<std::string>{"a", "b c"})) << "decoded, each once";
  r = channelsOf("/live/room/7/", "/live", "?channel=x", 16);
  EXPECT_EQ(r.channels, (std::vector<std::string>{"room/7", "x"}));
}

TEST(Channels, APathChannelIsDecodedAsThePublisherNamesIt) {
  EXPECT_EQ(channelsOf("/live/caf%C3%A9", "/live", "", 16).channels,
            std::vector<std::string>{"caf\xc3\xa9"});
  EXPECT_EQ(channelsOf("/live/a+b", "/live", "", 16).channels, std::vector<std::string>{"a+b"});
  EXPECT_EQ(decodeChannel("a+b%2Fc"), "a+b/c");
  EXPECT_EQ(decodeChannel("bad%2"), std::nullopt);
  EXPECT_EQ(decodeChannel("bad%zz"), std::nullopt);
}

TEST(Channels, BadNamesAndTooManyAreRefusedWithWhy) {
  EXPECT_EQ(channelsOf("/live", "/live", "", 16).error,
            "no channel: name one in the path or with ?channel=NAME");
  EXPECT_EQ(channelsOf("/live", "/live", "?channel=", 16).error, "a channel name may not be empty");
  EXPECT_EQ(channelsOf("/live", "/live", "?channel=" + std::string(257, 'x'), 16).error,
            "a channel name is 256 bytes at most");
  EXPECT_EQ(channelsOf("/live", "/live", "?channel=" + std::string(256, 'x'), 16).error, "");
  EXPECT_EQ(channelsOf("/live", "/live", "?channel=a%0Ab", 16).error,
            "a channel name may not hold control characters");
  EXPECT_EQ(channelsOf("/live/a", "/live", "?channel=b&channel=c", 2).error,
            "more channels than this route's max_channels (2)");
}

struct Recorder final : Subscriber {
  bool deliver(std::span<const std::byte> frame) override {
    frames.emplace_back(reinterpret_cast<const char*>(frame.data()), frame.size());
    if (onDeliver) onDeliver();
    return true;
  }
  std::vector<std::string> frames;
  std::function<void()> onDeliver;
};

std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span(s));
}

TEST(Hub, AMessageIsFramedOnceAndReachesEverySubscriberInOrder) {
  Hub hub;
  Recorder a, b, other;
  hub.subscribe("news", a);
  hub.subscribe("news", b);
  hub.subscribe("sport", other);
  EXPECT_EQ(hub.publish("news", bytes("hi"), false), 2u);
  EXPECT_EQ(hub.publish("news", bytes("\x01\x02"), true), 2u);
  EXPECT_EQ(hub.publish("nobody", bytes("x"), false), 0u);
  const std::vector<std::string> expected{std::string("\x81\x02hi"),
                                          std::string("\x82\x02\x01\x02")};
  EXPECT_EQ(a.frames, expected);
  EXPECT_EQ(b.frames, expected);
  EXPECT_TRUE(other.frames.empty());
  hub.unsubscribe("news", a);
  hub.unsubscribe("news", b);
  EXPECT_EQ(hub.channels(), 1u) << "a channel without subscribers is forgotten";
}

TEST(Hub, ASubscriberMayLeaveWhileAMessageIsHandedOut) {
  Hub hub;
  Recorder a, b, c;
  // a is closed as it is handed the message (its queue was full, say) and
  // takes b with it; c still gets it, b never does.
  a.onDeliver = [&] {
    hub.unsubscribe("ch", a);
    hub.unsubscribe("ch", b);
  };
  hub.subscribe("ch", a);
  hub.subscribe("ch", b);
  hub.subscribe("ch", c);
  EXPECT_EQ(hub.publish("ch", bytes("m"), false), 2u);
  EXPECT_EQ(a.frames.size(), 1u);
  EXPECT_TRUE(b.frames.empty());
  EXPECT_EQ(c.frames.size(), 1u);
  EXPECT_EQ(hub.subscribers("ch"), 1u);
  hub.unsubscribe("ch", c);
  EXPECT_EQ(hub.channels(), 0u);
}

}  // namespace
}  // namespace wsedge::pubsub
