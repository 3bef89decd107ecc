#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "proxy/pubsub/channels.h"
#include "proxy/pubsub/hub.h"
#include "proxy/pubsub/redis_message.h"

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
  bool deliver(const Frame& frame) override {
    frames.emplace_back(reinterpret_cast<const char*>(frame.bytes.data()), frame.bytes.size());
    shared.push_back(frame.shared != nullptr);
    if (onDeliver) onDeliver();
    return true;
  }
  std::vector<std::string> frames;
  std::vector<bool> shared;
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

struct Observer final : ChannelObserver {
  void channelOpened(const std::string& c) override { events.push_back("+" + c); }
  void channelClosed(const std::string& c) override { events.push_back("-" + c); }
  std::vector<std::string> events;
};

TEST(Hub, TheObserverHearsAChannelsFirstSubscriberAndItsLast) {
  Hub hub;
  Observer seen;
  hub.setObserver(&seen);
  Recorder a, b, late;
  hub.subscribe("ch", a);
  hub.subscribe("ch", b);
  // Emptied while a message is handed out, and another channel opened meanwhile.
  a.onDeliver = [&] {
    hub.unsubscribe("ch", a);
    hub.unsubscribe("ch", b);
    for (int i = 0; i < 100; ++i) hub.subscribe("new" + std::to_string(i), late);  // a rehash
  };
  EXPECT_EQ(hub.publish("ch", bytes("m"), false), 1u);
  ASSERT_EQ(seen.events.size(), 102u);
  EXPECT_EQ(seen.events.front(), "+ch");
  EXPECT_EQ(seen.events[1], "+new0");
  EXPECT_EQ(seen.events.back(), "-ch") << "closed once the walk is over";
  EXPECT_EQ(hub.channels(), 100u);
}

TEST(BusMessage, TextBinaryAndTheBinaryMark) {
  const auto decode = [](std::string_view raw) {
    const BusMessage m = decodeBusMessage(std::as_bytes(std::span(raw)));
    return std::pair(std::string(reinterpret_cast<const char*>(m.payload.data()), m.payload.size()),
                     m.binary);
  };
  EXPECT_EQ(decode("plain text \xc3\xa9"), std::pair(std::string("plain text \xc3\xa9"), false));
  EXPECT_EQ(decode("\xff\x01\x02"), std::pair(std::string("\x01\x02"), true)) << "marked";
  EXPECT_EQ(decode("\xc3("), std::pair(std::string("\xc3("), true)) << "not UTF-8: binary as is";
  EXPECT_EQ(decode(""), std::pair(std::string(), false));
  // What POST /publish sends through Redis comes out as it went in.
  for (const bool binary : {false, true}) {
    const std::string wire = encodeBusMessage("valid text", binary);
    EXPECT_EQ(decode(wire), std::pair(std::string("valid text"), binary));
  }
}

TEST(Hub, ALargeFrameIsSharedASmallOneCopied) {
  Hub hub;
  Recorder a, b;
  hub.subscribe("ch", a);
  hub.subscribe("ch", b);
  hub.publish("ch", bytes("small"), false);
  const std::string big(Hub::kShareFrom, 'b');
  hub.publish("ch", bytes(big), true);
  EXPECT_EQ(a.shared, (std::vector<bool>{false, true}));
  EXPECT_EQ(a.frames[1].substr(4), big) << "a 2-byte header with a 16-bit length, then the payload";
  EXPECT_EQ(a.frames, b.frames);
}

}  // namespace
}  // namespace wsedge::pubsub
