// The tunnel's keepalive and message rate, over the in-memory transport
// with time moved by hand: what each side sees on the wire.
#include <gtest/gtest.h>

#include "tests/proxy/session/session_fixture.h"

namespace wsedge::proxy {
namespace {

class TunnelTest : public SessionTest {
 protected:
  // Time moves the way a worker sees it: in ticks, timers firing as they fall due.
  void step(std::uint64_t ms) {
    for (std::uint64_t t = 0; t < ms; t += 100) net_.advance(std::min<std::uint64_t>(100, ms - t));
  }
};

// The only ping a side received (failing the test if there is another frame).
std::string onlyPing(const Frames& f) {
  EXPECT_EQ(f.list.size(), 1u);
  if (f.list.size() != 1) return {};
  EXPECT_EQ(f.list[0].op, ws::Opcode::kPing);
  return f.list[0].payload;
}

TEST_F(TunnelTest, ASilentSideIsPingedWithItsOwnPayloadAndItsPongStopsAtTheProxy) {
  auto [client, backend] = openTunnel("/live");
  step(9'900);
  EXPECT_TRUE(client->received().empty() && backend->received().empty()) << "not yet silent 10 s";
  step(200);
  const Frames atC = atClient(client->take());
  const Frames atB = atBackend(backend->take());
  const std::string toClient = onlyPing(atC), toBackend = onlyPing(atB);
  EXPECT_EQ(toClient.size(), 8u);
  EXPECT_NE(toClient, toBackend) << "a payload of its own per hop";
  // (atBackend() parses as a server does, and an unmasked frame would fail it.)

  client->send(frame(ws::Opcode::kPong, toClient, true));
  backend->send(frame(ws::Opcode::kPong, toBackend, false));
  EXPECT_TRUE(client->received().empty() && backend->received().empty())
      << "answers to our own pings are not forwarded";
  step(5'000);
  EXPECT_FALSE(client->closed() || backend->closed()) << "both answered";
  EXPECT_TRUE(live_.size() == 1u);
  step(5'000);  // 10 s after the answers, both are silent again
  EXPECT_EQ(onlyPing(atClient(client->take())).size(), 8u);
  EXPECT_EQ(onlyPing(atBackend(backend->take())).size(), 8u);
}

TEST_F(TunnelTest, APeersOwnPingsAndPongsStillCrossEndToEnd) {
  auto [client, backend] = openTunnel("/live");
  client->send(frame(ws::Opcode::kPing, "client ping", true));
  Frames f = atBackend(backend->take());
  ASSERT_EQ(f.list.size(), 1u);
  EXPECT_EQ(f.list[0].payload, "client ping");
  backend->send(frame(ws::Opcode::kPong, "client ping", false));
  backend->send(frame(ws::Opcode::kPong, "unsolicited", false));
  f = atClient(client->take());
  ASSERT_EQ(f.list.size(), 2u);
  EXPECT_EQ(f.list[0].op, ws::Opcode::kPong);
  EXPECT_EQ(f.list[1].payload, "unsolicited");
}

TEST_F(TunnelTest, ABackendThatStopsAnsweringIsClosedAndTheClientGets1014) {
  auto [client, backend] = openTunnel("/live");
  // The client talks every second; the backend has gone silent.
  for (int i = 0; i < 11; ++i) {
    client->send(frame(ws::Opcode::kText, "tick", true));
    step(1'000);
  }
  EXPECT_FALSE(client->closed()) << "pinged at 10 s, 2 s to answer";
  step(1'200);
  ASSERT_TRUE(client->closed());
  Frames f = atClient(client->take());
  EXPECT_EQ(f.list.back().op, ws::Opcode::kClose);
  EXPECT_EQ(f.list.back().code, 1014);
  EXPECT_EQ(f.list.back().payload, "backend not answering");
  EXPECT_EQ(atBackend(backend->take()).list.back().code, 1001);
  EXPECT_EQ(lastRecord().cause, Cause::kUnresponsive);
  EXPECT_EQ(lastRecord().endedBy, Side::kBackend);
  EXPECT_EQ(lastRecord().messagesFromClient, 11u) << "nothing lost before";
}

TEST_F(TunnelTest, AClientThatStopsAnsweringIsClosedAndTheBackendGets1001) {
  auto [client, backend] = openTunnel("/live");
  for (int i = 0; i < 11; ++i) {
    backend->send(frame(ws::Opcode::kText, "news", false));
    step(1'000);
  }
  EXPECT_FALSE(backend->closed());
  step(1'200);
  ASSERT_TRUE(backend->closed());
  Frames f = atBackend(backend->take());
  EXPECT_EQ(f.list.back().code, 1001);
  EXPECT_EQ(f.list.back().payload, "client not answering");
  EXPECT_EQ(lastRecord().cause, Cause::kUnresponsive);
  EXPECT_EQ(lastRecord().endedBy, Side::kClient);
}

TEST_F(TunnelTest, APingWaitsBehindAFrameBeingGatheredAndItsClockStartsWhenItLeaves) {
  auto [client, backend] = openTunnel("/live");
  const std::string big = frame(ws::Opcode::kBinary, std::string(1000, 'b'), false);
  step(5'000);
  backend->send(big.substr(0, 500));  // the backend drips a frame: it is alive
  step(5'100);
  EXPECT_TRUE(client->received().empty()) << "no ping inside a frame";
  step(4'000);
  EXPECT_FALSE(client->closed()) << "a ping that never left cannot go unanswered";
  backend->send(big.substr(500));
  const Frames f = atClient(client->take());
  ASSERT_EQ(f.list.size(), 2u);
  EXPECT_EQ(f.list[0].payload.size(), 1000u);
  EXPECT_EQ(f.list[1].op, ws::Opcode::kPing) << "right behind the frame";
  client->send(frame(ws::Opcode::kPong, f.list[1].payload, true));
  step(3'000);
  EXPECT_FALSE(client->closed());
}

TEST_F(TunnelTest, PongsToOurPingsAreNotActivityForTheIdleTimeout) {
  auto [client, backend] = openTunnel("/live");
  for (int i = 0; i < 7; ++i) {  // 70 s of answered pings, no message
    step(10'000);
    const std::string c = atClient(client->take()).list.at(0).payload;
    const std::string b = atBackend(backend->take()).list.at(0).payload;
    if (client->closed()) break;
    client->send(frame(ws::Opcode::kPong, c, true));
    backend->send(frame(ws::Opcode::kPong, b, false));
  }
  EXPECT_TRUE(client->closed()) << "idle_timeout 60 s still applies";
  EXPECT_EQ(lastRecord().cause, Cause::kTimeout);
}

TEST_F(TunnelTest, OverTheRateTheClientIsHeldUntilTokensReturnAndControlFramesDoNotCount) {
  auto [client, backend] = openTunnel("/rate");  // 10 a second, a burst of 5
  std::string flood;
  for (int i = 0; i < 5; ++i) flood += frame(ws::Opcode::kText, "m" + std::to_string(i), true);
  flood += frame(ws::Opcode::kPing, "p", true);
  for (int i = 5; i < 20; ++i) flood += frame(ws::Opcode::kText, "m" + std::to_string(i), true);
  client->send(flood);
  Frames f = atBackend(backend->take());
  ASSERT_EQ(f.list.size(), 6u) << "the burst, and the ping behind it";
  EXPECT_EQ(f.list[4].payload, "m4");
  EXPECT_EQ(f.list[5].op, ws::Opcode::kPing);
  EXPECT_TRUE(client->paused()) << "not read while over the rate";
  step(1'000);
  f = atBackend(backend->take());
  ASSERT_EQ(f.list.size(), 10u) << "one every 100 ms";
  EXPECT_EQ(f.list.front().payload, "m5");
  EXPECT_EQ(f.list.back().payload, "m14");
  step(600);
  f = atBackend(backend->take());
  ASSERT_EQ(f.list.size(), 5u);
  EXPECT_EQ(f.list.back().payload, "m19");
  EXPECT_FALSE(client->paused()) << "caught up: read again";
  EXPECT_FALSE(client->closed());
}

TEST_F(TunnelTest, AClientThatLeavesWhileHeldStillHasEverythingDeliveredCloseIncluded) {
  auto [client, backend] = openTunnel("/rate");
  std::string burst;
  for (int i = 0; i < 8; ++i) burst += frame(ws::Opcode::kText, "m" + std::to_string(i), true);
  client->send(burst + closeFrame(1000, "bye", true));
  client->end(0);  // and its FIN, while three messages are held
  EXPECT_EQ(atBackend(backend->take()).list.size(), 5u);
  step(400);
  const Frames f = atBackend(backend->take());
  ASSERT_EQ(f.list.size(), 4u);
  EXPECT_EQ(f.list[2].payload, "m7");
  EXPECT_EQ(f.list[3].op, ws::Opcode::kClose);
  EXPECT_EQ(f.list[3].code, 1000);
  backend->send(closeFrame(1000, "bye", false));
  EXPECT_EQ(lastRecord().cause, Cause::kNormalClose);
  EXPECT_EQ(lastRecord().messagesFromClient, 8u);
}

TEST_F(TunnelTest, OverTheRateWithCloseTheClientGets1008AndNothingMoreCrosses) {
  auto [client, backend] = openTunnel("/strict");
  std::string flood;
  for (int i = 0; i < 8; ++i) flood += frame(ws::Opcode::kText, "m" + std::to_string(i), true);
  client->send(flood);
  const Frames b = atBackend(backend->take());
  ASSERT_EQ(b.list.size(), 6u);
  EXPECT_EQ(b.list[4].payload, "m4");
  EXPECT_EQ(b.list[5].code, 1001);
  const Frames c = atClient(client->take());
  ASSERT_EQ(c.list.size(), 1u);
  EXPECT_EQ(c.list[0].code, 1008);
  EXPECT_EQ(c.list[0].payload, "message rate exceeded");
  EXPECT_EQ(lastRecord().cause, Cause::kOverRate);
}

TEST_F(TunnelTest, ADrainedBackendsClientGets1012AtItsTimeAndTheBackend1001) {
  auto [client, backend] = openTunnel("/live");
  ASSERT_TRUE(live_[0]->drainAt(net_.timers().now() + 3'000, Tunnel::Drain::kBackend));
  step(2'900);
  EXPECT_FALSE(client->closed()) << "not before its time";
  client->send(frame(ws::Opcode::kText, "still here", true));
  EXPECT_EQ(atBackend(backend->take()).list.at(0).payload, "still here");
  step(200);
  ASSERT_TRUE(client->closed());
  const Frames f = atClient(client->take());
  EXPECT_EQ(f.list.back().code, 1012);
  EXPECT_EQ(f.list.back().payload, "backend draining");
  EXPECT_EQ(atBackend(backend->take()).list.back().code, 1001);
  EXPECT_EQ(lastRecord().cause, Cause::kDrained);
}

TEST_F(TunnelTest, ADrainTakenBackClosesNothingAndAShutdownGives1001) {
  auto [client, backend] = openTunnel("/live");
  Session* s = live_[0];
  ASSERT_TRUE(s->drainAt(net_.timers().now() + 1'000, Tunnel::Drain::kBackend));
  ASSERT_TRUE(s->drainAt(0, Tunnel::Drain::kNone));
  step(2'000);
  EXPECT_FALSE(client->closed());
  ASSERT_TRUE(s->drainAt(net_.timers().now() + 500, Tunnel::Drain::kShutdown));
  step(600);
  ASSERT_TRUE(client->closed());
  EXPECT_EQ(atClient(client->take()).list.back().code, 1001);
  EXPECT_EQ(lastRecord().cause, Cause::kDrained);
}

}  // namespace
}  // namespace wsedge::proxy
