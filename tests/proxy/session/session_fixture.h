// The session tests' fixture: sessions over the in-memory transport, what
// each side sees on the wire, byte for byte, with time moved by hand.
#pragma once

#include "proxy/session/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "conf/loader.h"
#include "proxy/http/accept_key.h"
#include "proxy/ws/frame_parser.h"
#include "proxy/ws/frame_writer.h"
#include "tests/support/fake_transport.h"

namespace wsedge::proxy {
namespace {  // one copy per test file

using testing::FakeNetwork;
using testing::FakePeer;

const char* kConfig = R"(
listeners:
  - address: 127.0.0.1:1
    routes:
      - match: { path_prefix: /chat }
        pool: chat
      - match: { path_prefix: /down }
        pool: down
      - match: { path_prefix: /live }
        pool: chat
        limits: { ping_interval: 10s, ping_timeout: 2s }
      - match: { path_prefix: /rate }
        pool: chat
        limits: { message_rate: { per_second: 10, burst: 5 } }
      - match: { path_prefix: /strict }
        pool: chat
        limits: { message_rate: { per_second: 10, burst: 5, over_rate: close } }
pools:
  chat:
    backends: [ 127.0.0.1:9001, 127.0.0.1:9002 ]
  down:
    backends: [ 127.0.0.1:9003 ]
limits:
  handshake_timeout: 2s
  connect_timeout: 1s
  backend_timeout: 3s
  idle_timeout: 60s
  close_timeout: 5s
  send_timeout: 20s
  max_buffered: 64KiB
)";

constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";

std::string upgradeRequest(const std::string& path = "/chat") {
  return "GET " + path +
         " HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " +
         kKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

std::string switchingProtocols() {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         http::computeAcceptKey(kKey) + "\r\n\r\n";
}

std::string frame(ws::Opcode op, std::string_view payload, bool masked) {
  std::vector<std::byte> out;
  ws::FrameHeader h;
  h.opcode = op;
  h.masked = masked;
  h.mask = {0x11, 0x22, 0x33, 0x44};
  ws::appendFrame(out, h, std::as_bytes(std::span(payload)));
  return {reinterpret_cast<const char*>(out.data()), out.size()};
}

[[maybe_unused]] std::string closeFrame(std::uint16_t code, std::string_view reason, bool masked) {
  std::byte p[ws::kMaxControlPayload];
  const std::size_t n = ws::writeClosePayload(p, code, reason);
  return frame(ws::Opcode::kClose, {reinterpret_cast<const char*>(p), n}, masked);
}

// Frames as a peer would read them.
struct Frames {
  struct F {
    ws::Opcode op;
    bool masked;
    std::string payload;
    std::uint16_t code = 0;
  };
  std::vector<F> list;
  ws::FrameHeader header;
  std::string current;
  void onFrameStart(const ws::FrameHeader& h) {
    header = h;
    current.clear();
  }
  void onPayload(std::span<std::byte> d) {
    current.append(reinterpret_cast<char*>(d.data()), d.size());
  }
  void onFrameEnd(const ws::FrameHeader& h) { list.push_back({h.opcode, h.masked, current}); }
  void onControl(ws::Opcode op, std::span<const std::byte> p) {
    list.push_back(
        {op, header.masked, std::string(reinterpret_cast<const char*>(p.data()), p.size())});
  }
  void onClose(std::uint16_t code, std::string_view reason) {
    list.push_back({ws::Opcode::kClose, false, std::string(reason), code});
  }
};

template <ws::Role R>
Frames parse(std::string bytes) {
  ws::FrameParser<R> parser;
  Frames f;
  parser.feed(std::as_writable_bytes(std::span(bytes.data(), bytes.size())), f);
  return f;
}
// What a backend reads (masked frames from the proxy) and what a client reads.
Frames atBackend(std::string bytes) {
  return parse<ws::Role::kServer>(std::move(bytes));
}
Frames atClient(std::string bytes) {
  return parse<ws::Role::kClient>(std::move(bytes));
}

[[maybe_unused]] std::string body(const std::string& response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}

class SessionTest : public ::testing::Test, protected SessionOwner {
 protected:
  SessionTest() {
    auto snapshot = buildSnapshot(conf::loadConfigFromString(kConfig, "t.yaml"));
    generation_ = std::make_shared<Generation>(snapshot);
  }
  ~SessionTest() override {
    for (Session* s : std::vector<Session*>(live_)) s->shutdown();
    settle();
  }

  void sessionEnded(Session& s, const SessionRecord& r) override {
    live_.erase(std::find(live_.begin(), live_.end(), &s));
    ended_.push_back(&s);
    // The strings the record borrows from the snapshot stay valid: the
    // fixture holds the generation.
    records_.push_back(r);
  }
  // What the worker does after the batch: deletes what has ended.
  void settle() {
    for (Session* s : ended_) delete s;
    ended_.clear();
  }

  /// A new session; returns the client's peer.
  std::shared_ptr<FakePeer> open() {
    auto [conn, peer] = net_.accept();
    generation_->snapshot->listeners[0].active->fetch_add(1);  // as the worker does
    live_.push_back(new Session(ctx_, generation_, 0, std::move(conn)));
    return peer;
  }

  /// Client connected, request sent, backend connected: returns the backend.
  std::shared_ptr<FakePeer> reachBackend(FakePeer& client, std::size_t piece = 0,
                                         const std::string& path = "/chat") {
    client.send(upgradeRequest(path), piece);
    EXPECT_FALSE(net_.dials().empty());
    auto backend = net_.dials().back();
    backend->accept(0);
    return backend;
  }

  /// A session through to an open tunnel: {client, backend}, with the 101 taken.
  std::pair<std::shared_ptr<FakePeer>, std::shared_ptr<FakePeer>> openTunnel(
      const std::string& path = "/chat") {
    auto client = open();
    auto backend = reachBackend(*client, 0, path);
    backend->take();
    backend->send(switchingProtocols());
    EXPECT_EQ(client->take().rfind("HTTP/1.1 101", 0), 0u);
    return {client, backend};
  }

  const SessionRecord& lastRecord() const { return records_.back(); }

  FakeNetwork net_;
  ws::MaskKeySource masks_;
  SessionContext ctx_{net_, masks_, *this};
  std::shared_ptr<Generation> generation_;
  std::vector<Session*> live_;
  std::vector<Session*> ended_;
  std::vector<SessionRecord> records_;
};

}  // namespace
}  // namespace wsedge::proxy
