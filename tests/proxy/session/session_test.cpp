// The session and its legs over the in-memory transport: what each side
// sees on the wire, byte for byte, with time moved by hand.
#include <gtest/gtest.h>

#include <cerrno>

#include "tests/proxy/session/session_fixture.h"

namespace wsedge::proxy {
namespace {

TEST_F(SessionTest, HandshakeSplitAtEveryByteReachesTheBackendAndOpensTheTunnel) {
  const std::string request = upgradeRequest();
  const std::string answer = switchingProtocols();
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, request.size()}) {
    auto client = open();
    client->send(request, piece);
    ASSERT_EQ(net_.dials().size(), records_.size() + 1) << "one dial once the request is whole";
    auto backend = net_.dials().back();
    EXPECT_TRUE(backend->received().empty()) << "nothing before the connection is up";
    backend->accept(0);
    const std::string forwarded = backend->take();
    EXPECT_EQ(forwarded.rfind("GET /chat HTTP/1.1\r\n", 0), 0u);
    EXPECT_NE(forwarded.find("Sec-WebSocket-Key: " + std::string(kKey) + "\r\n"),
              std::string::npos);
    EXPECT_NE(forwarded.find("X-Forwarded-For: 127.0.0.1\r\n"), std::string::npos);
    EXPECT_TRUE(client->received().empty()) << "no 101 before the backend's";

    backend->send(answer, piece);
    const std::string upgrade = client->take();
    EXPECT_EQ(upgrade.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u);
    EXPECT_NE(upgrade.find("Sec-WebSocket-Accept: " + http::computeAcceptKey(kKey)),
              std::string::npos);

    client->send(frame(ws::Opcode::kText, "hello backend", true), piece);
    Frames f = atBackend(backend->take());
    ASSERT_EQ(f.list.size(), 1u);
    EXPECT_TRUE(f.list[0].masked) << "frames toward a backend are masked";
    EXPECT_EQ(f.list[0].payload, "hello backend");

    backend->send(frame(ws::Opcode::kBinary, "hello client", false), piece);
    f = atClient(client->take());
    ASSERT_EQ(f.list.size(), 1u);
    EXPECT_FALSE(f.list[0].masked);
    EXPECT_EQ(f.list[0].payload, "hello client");

    client->send(closeFrame(1000, "bye", true));
    backend->send(closeFrame(1000, "bye", false));
    EXPECT_TRUE(client->closed() && backend->closed());
    settle();
  }
}

TEST_F(SessionTest, FramesPipelinedBehindTheRequestCrossOnlyAfterThe101) {
  auto client = open();
  client->send(upgradeRequest() + frame(ws::Opcode::kText, "early", true));
  auto backend = net_.dials().back();
  backend->accept(0);
  const std::string before = backend->take();
  EXPECT_EQ(before.find("early"), std::string::npos);
  EXPECT_TRUE(before.ends_with("\r\n\r\n")) << "only the upgrade request";
  backend->send(switchingProtocols());
  Frames f = atBackend(backend->take());
  ASSERT_EQ(f.list.size(), 1u);
  EXPECT_EQ(f.list[0].payload, "early");
}

TEST_F(SessionTest, ARefusedUpgradeIsRelayedAndLaterClientBytesNeverReachTheBackend) {
  auto client = open();
  auto backend = reachBackend(*client);
  const std::string request = backend->take();
  client->send("GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n");
  backend->send("HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!");
  const std::string response = client->take();
  EXPECT_EQ(response.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u);
  EXPECT_NE(response.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(body(response), "nope!");
  EXPECT_TRUE(client->closed() && client->graceful());
  EXPECT_TRUE(backend->closed());
  EXPECT_TRUE(backend->received().empty()) << "nothing after the request reached the backend";
  ASSERT_EQ(records_.size(), 1u);
  EXPECT_EQ(lastRecord().status, 403);
  EXPECT_EQ(lastRecord().endedBy, Side::kBackend);
  EXPECT_EQ(lastRecord().cause, Cause::kRefused);
}

TEST_F(SessionTest, ARefusedConnectIsRetriedOnTheOtherBackend) {
  auto client = open();
  client->send(upgradeRequest());
  ASSERT_EQ(net_.dials().size(), 1u);
  const std::string first = net_.dials()[0]->address().toString();
  net_.dials()[0]->accept(-ECONNREFUSED);
  ASSERT_EQ(net_.dials().size(), 2u);
  auto backend = net_.dials()[1];
  EXPECT_NE(backend->address().toString(), first) << "never the same backend twice";
  EXPECT_TRUE(net_.dials()[0]->closed());
  backend->accept(0);
  EXPECT_EQ(backend->take().rfind("GET /chat", 0), 0u);
  backend->send(switchingProtocols());
  EXPECT_EQ(client->take().rfind("HTTP/1.1 101", 0), 0u);
}

TEST_F(SessionTest, ABackendThatClosesBeforeAnsweringIsRetriedOnTheOther) {
  auto client = open();
  auto first = reachBackend(*client);
  first->take();
  first->end(-ECONNRESET);  // accepted, then reset: a backend in trouble
  ASSERT_EQ(net_.dials().size(), 2u);
  auto second = net_.dials()[1];
  EXPECT_NE(second->address().toString(), first->address().toString());
  second->accept(0);
  EXPECT_EQ(second->take().rfind("GET /chat", 0), 0u);
  second->send(switchingProtocols());
  EXPECT_EQ(client->take().rfind("HTTP/1.1 101", 0), 0u);
}

TEST_F(SessionTest, A5xxWithNoOtherBackendToTryIsRelayedAsItIs) {
  auto client = open();
  auto first = reachBackend(*client);
  first->take();
  // The other backend is out of the running: nothing to retry on.
  const PoolSnapshot& chat = generation_->snapshot->pools[0];
  for (std::size_t i = 0; i < chat.backends.size(); ++i) {
    if (chat.backends[i].address.toString() != first->address().toString()) {
      chat.state.backend(i).healthy = false;
    }
  }
  first->send(
      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 5\r\n\r\nbusy\n");
  const std::string response = client->take();
  EXPECT_EQ(response.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("Retry-After: 5\r\n"), std::string::npos);
  EXPECT_EQ(body(response), "busy\n");
  EXPECT_EQ(net_.dials().size(), 1u);
}

TEST_F(SessionTest, EveryBackendRefusingGives502AndATimeoutGives504) {
  auto client = open();
  client->send(upgradeRequest());
  net_.dials()[0]->accept(-ECONNREFUSED);
  net_.dials()[1]->accept(-ECONNREFUSED);
  EXPECT_EQ(net_.dials().size(), 2u) << "each backend once";
  std::string response = client->take();
  EXPECT_EQ(response.rfind("HTTP/1.1 502 ", 0), 0u);
  EXPECT_EQ(body(response), "no backend accepted the connection\n");
  EXPECT_TRUE(client->closed() && client->graceful());
  EXPECT_EQ(lastRecord().status, 502);
  EXPECT_EQ(lastRecord().attempts, 2u);

  client = open();
  client->send(upgradeRequest());
  net_.advance(1100);  // the first connect times out; the second is tried
  ASSERT_EQ(net_.dials().size(), 4u);
  EXPECT_TRUE(net_.dials()[2]->closed());
  net_.advance(1100);
  response = client->take();
  EXPECT_EQ(response.rfind("HTTP/1.1 504 ", 0), 0u);
  EXPECT_EQ(body(response), "no backend accepted the connection in time\n");
}

TEST_F(SessionTest, TheRoutesPoolDecidesAndOneWithNoHealthyBackendGives503) {
  auto client = open();
  client->send(upgradeRequest("/nowhere"));
  EXPECT_EQ(client->take().rfind("HTTP/1.1 404 ", 0), 0u);
  generation_->snapshot->pools[1].state.backend(0).healthy = false;
  client = open();
  client->send(upgradeRequest("/down"));
  const std::string response = client->take();
  EXPECT_EQ(response.rfind("HTTP/1.1 503 ", 0), 0u);
  EXPECT_EQ(body(response), "no healthy backend for this route\n");
  EXPECT_TRUE(net_.dials().empty());
}

TEST_F(SessionTest, AFullConnectionTableGives503) {
  auto client = open();
  net_.failConnectsWith(-ENFILE);
  client->send(upgradeRequest());
  const std::string response = client->take();
  EXPECT_EQ(response.rfind("HTTP/1.1 503 ", 0), 0u);
  EXPECT_EQ(body(response), "the proxy has no room for another connection\n");
}

TEST_F(SessionTest, TheHandshakeAndTheBackendHaveDeadlines) {
  auto client = open();
  client->send("GET /chat HTTP/1.1\r\n");
  net_.advance(2100);
  EXPECT_EQ(client->take().rfind("HTTP/1.1 408 ", 0), 0u);
  EXPECT_TRUE(client->closed());

  client = open();
  auto backend = reachBackend(*client);
  net_.advance(3100);  // no answer to the upgrade
  EXPECT_EQ(client->take().rfind("HTTP/1.1 504 ", 0), 0u);
  EXPECT_TRUE(backend->closed() && !backend->graceful());
}

TEST_F(SessionTest, ACloseFromTheClientIsForwardedAndTheAnswerComesBack) {
  auto [client, backend] = openTunnel();
  client->send(closeFrame(4001, "client says bye", true));
  Frames f = atBackend(backend->take());
  ASSERT_EQ(f.list.size(), 1u);
  EXPECT_EQ(f.list[0].code, 4001);
  EXPECT_EQ(f.list[0].payload, "client says bye");
  EXPECT_FALSE(client->closed()) << "waiting for the backend's answer";
  backend->send(closeFrame(4001, "ok", false));
  f = atClient(client->take());
  ASSERT_EQ(f.list.size(), 1u);
  EXPECT_EQ(f.list[0].code, 4001);
  EXPECT_TRUE(client->closed() && client->graceful());
  EXPECT_TRUE(backend->closed() && backend->graceful());
  const SessionRecord& r = lastRecord();
  EXPECT_EQ(r.status, 101);
  EXPECT_EQ(r.closedFirst, Side::kClient);
  EXPECT_EQ(r.fromClient.code, 4001);
  EXPECT_EQ(r.fromClient.reason, "client says bye");
  EXPECT_EQ(r.toBackend.code, 4001);
  EXPECT_EQ(r.fromBackend.code, 4001);
  EXPECT_EQ(r.toClient.code, 4001);
  EXPECT_EQ(r.backend, "127.0.0.1:9001");
}

TEST_F(SessionTest, ACloseFromTheBackendIsForwardedAndTheAnswerComesBack) {
  auto [client, backend] = openTunnel();
  backend->send(frame(ws::Opcode::kText, "last words", false) + closeFrame(1001, "restart", false));
  Frames f = atClient(client->take());
  ASSERT_EQ(f.list.size(), 2u);
  EXPECT_EQ(f.list[0].payload, "last words");
  EXPECT_EQ(f.list[1].code, 1001);
  client->send(closeFrame(1001, "", true));
  f = atBackend(backend->take());
  ASSERT_EQ(f.list.size(), 1u);
  EXPECT_EQ(f.list[0].code, 1001);
  EXPECT_TRUE(client->closed() && backend->closed());
  EXPECT_EQ(lastRecord().closedFirst, Side::kBackend);
  EXPECT_EQ(lastRecord().messagesFromBackend, 1u);
  EXPECT_EQ(lastRecord().bytesFromBackend, 10u);
}

TEST_F(SessionTest, AClientThatDropsGivesTheBackend1001AndADroppedBackendGivesTheClient1014) {
  auto [client, backend] = openTunnel();
  client->end(-ECONNRESET);
  Frames f = atBackend(backend->take());
  ASSERT_EQ(f.list.size(), 1u);
  EXPECT_EQ(f.list[0].code, 1001);
  EXPECT_EQ(f.list[0].payload, "client went away");
  EXPECT_EQ(lastRecord().endedBy, Side::kClient);
  EXPECT_EQ(lastRecord().cause, Cause::kTransportError);

  auto [client2, backend2] = openTunnel();
  backend2->end(0);
  f = atClient(client2->take());
  ASSERT_EQ(f.list.size(), 1u);
  EXPECT_EQ(f.list[0].code, 1014);
  EXPECT_EQ(lastRecord().toClient.code, 1014);
  EXPECT_EQ(lastRecord().closedFirst, Side::kProxy);
}

TEST_F(SessionTest, ProtocolErrorsCloseWithTheirCodeOnOneSideAndTheGatewayCodeOnTheOther) {
  auto [client, backend] = openTunnel();
  client->send(frame(ws::Opcode::kText, "unmasked", false));
  EXPECT_EQ(atClient(client->take()).list.at(0).code, 1002);
  EXPECT_EQ(atBackend(backend->take()).list.at(0).code, 1001);

  auto [client2, backend2] = openTunnel();
  backend2->send(frame(ws::Opcode::kText, "masked", true));
  EXPECT_EQ(atClient(client2->take()).list.at(0).code, 1014);
  EXPECT_EQ(atBackend(backend2->take()).list.at(0).code, 1002);
  EXPECT_EQ(lastRecord().cause, Cause::kProtocolError);
}

TEST_F(SessionTest, AFullBackendQueueStopsReadingTheClientUntilItDrains) {
  auto [client, backend] = openTunnel();
  backend->setWindow(0);  // the backend stops reading
  const std::string big(16 * 1024, 'x');
  int sent = 0;
  while (!client->paused() && sent < 100) {
    client->send(frame(ws::Opcode::kBinary, big, true));
    ++sent;
  }
  EXPECT_TRUE(client->paused()) << "paused once 64 KiB are queued";
  EXPECT_LE(sent, 5);
  backend->setWindow(SIZE_MAX);  // it reads everything
  EXPECT_FALSE(client->paused());
  Frames f = atBackend(backend->take());
  EXPECT_EQ(f.list.size(), static_cast<std::size_t>(sent)) << "nothing lost";
}

TEST_F(SessionTest, ShutdownCloses1001BothWaysInATunnelAndDropsOtherwise) {
  auto [client, backend] = openTunnel();
  auto waiting = open();
  waiting->send("GET /chat HTTP/1.1\r\n");
  for (Session* s : std::vector<Session*>(live_)) s->shutdown();
  EXPECT_EQ(atClient(client->take()).list.at(0).code, 1001);
  EXPECT_EQ(atBackend(backend->take()).list.at(0).code, 1001);
  EXPECT_TRUE(waiting->closed() && !waiting->graceful());
  EXPECT_EQ(records_.size(), 2u);
  for (const SessionRecord& r : records_) EXPECT_EQ(r.cause, Cause::kShutdown);
}

TEST_F(SessionTest, TheIdleTimeoutClosesBothSidesWith1001) {
  auto [client, backend] = openTunnel();
  net_.advance(30'000);
  client->send(frame(ws::Opcode::kPing, "", true));
  net_.advance(40'000);  // 70 s since the tunnel opened, 40 s since the ping
  EXPECT_FALSE(client->closed()) << "activity moved the deadline";
  net_.advance(21'000);
  EXPECT_EQ(atClient(client->take()).list.back().code, 1001);
  EXPECT_EQ(atBackend(backend->take()).list.back().code, 1001);
  EXPECT_EQ(lastRecord().cause, Cause::kTimeout);
}

TEST_F(SessionTest, ReadingIsCappedToTheRoomLeftInTheOtherSidesQueue) {
  auto client = open();
  client->send(upgradeRequest() + frame(ws::Opcode::kText, "early", true));
  EXPECT_EQ(client->budget(), 64 * 1024 - frame(ws::Opcode::kText, "early", true).size())
      << "before the 101: the early-bytes cap";
  auto backend = net_.dials().back();
  backend->accept(0);
  backend->take();
  backend->setWindow(0);  // the backend reads nothing from now on
  backend->send(switchingProtocols());
  const std::string f = frame(ws::Opcode::kBinary, std::string(10000, 'b'), true);
  client->send(f);
  const std::size_t queued = frame(ws::Opcode::kText, "early", true).size() + f.size();
  EXPECT_EQ(client->budget(), 64 * 1024 - queued) << "the room in the backend's queue";
  EXPECT_EQ(backend->budget(), 64 * 1024u) << "the client's queue is empty";
}

TEST_F(SessionTest, APausedSenderResumesAtHalfTheCapNotAtOnce) {
  auto [client, backend] = openTunnel();
  backend->setWindow(0);
  const std::string f = frame(ws::Opcode::kBinary, std::string(16 * 1024, 'x'), true);
  std::size_t queued = 0;
  while (!client->paused()) {
    client->send(f);
    queued += f.size();
  }
  backend->setWindow(queued - 40 * 1024);  // 40 KiB left in the queue
  EXPECT_TRUE(client->paused()) << "not yet: above half";
  backend->setWindow(10 * 1024);  // 30 KiB left
  EXPECT_FALSE(client->paused());
}

TEST_F(SessionTest, ASideThatReadsNothingForTheSendTimeoutEndsTheSessionWith1008) {
  auto [client, backend] = openTunnel();
  client->setWindow(0);  // the client stops reading, and keeps pinging
  for (int i = 0; i < 10; ++i) {
    backend->send(frame(ws::Opcode::kText, "news " + std::to_string(i), false));
    client->send(frame(ws::Opcode::kPing, "", true));
    net_.advance(1000);
  }
  EXPECT_FALSE(client->closed()) << "10 s: within send_timeout";
  client->setWindow(100);  // it reads a little: progress
  net_.advance(15'000);
  EXPECT_FALSE(client->closed()) << "progress restarted the clock";
  backend->send(frame(ws::Opcode::kText, std::string(1000, 'm'), false));  // past its window
  net_.advance(21'000);
  ASSERT_TRUE(client->closed()) << "no progress for send_timeout; sessions ended: "
                                << records_.size();
  const Frames f = atBackend(backend->take());
  ASSERT_FALSE(f.list.empty());
  EXPECT_EQ(f.list.back().code, 1008);
  EXPECT_EQ(f.list.back().payload, "client not reading");
  EXPECT_EQ(lastRecord().cause, Cause::kStalled);
  EXPECT_EQ(lastRecord().endedBy, Side::kClient);
}

TEST_F(SessionTest, TheIdleTimeoutCountsFramesNotBytes) {
  auto [client, backend] = openTunnel();
  // A frame announcing 100 bytes, dripped a byte every 10 s: never finished.
  const std::string f = frame(ws::Opcode::kBinary, std::string(100, 'd'), true);
  client->send(f.substr(0, 6));
  for (std::size_t i = 6; i < 14; ++i) {
    net_.advance(10'000);
    client->send(f.substr(i, 1));
  }
  EXPECT_TRUE(client->closed()) << "80 s of bytes, but no frame for 60 s";
  EXPECT_EQ(atBackend(backend->take()).list.back().code, 1001);
  EXPECT_EQ(lastRecord().cause, Cause::kTimeout);
}

}  // namespace
}  // namespace wsedge::proxy
