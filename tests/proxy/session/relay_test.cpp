#include "proxy/session/relay.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "proxy/session/granted_push.h"
#include "proxy/ws/frame_writer.h"

namespace wsedge::proxy {
namespace {

using Bytes = std::vector<std::byte>;

Bytes frame(ws::Opcode op, const std::string& payload, bool fin = true, bool masked = true) {
  Bytes out;
  ws::FrameHeader h;
  h.fin = fin;
  h.opcode = op;
  h.masked = masked;
  h.mask = {0xA1, 0xB2, 0xC3, 0xD4};
  ws::appendFrame(out, h, std::as_bytes(std::span(payload)));
  return out;
}

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes drain(io::SendQueue& q) {
  Bytes out;
  iovec iov[64];
  const std::size_t n = q.gather(iov, 64);
  for (std::size_t i = 0; i < n; ++i) {
    auto* p = static_cast<std::byte*>(iov[i].iov_base);
    out.insert(out.end(), p, p + iov[i].iov_len);
  }
  q.consume(out.size());
  return out;
}

// Parses what the relay wrote, as the receiving side would.
struct Frames {
  struct F {
    ws::Opcode op;
    bool fin;
    bool masked;
    ws::MaskKey key;
    std::string payload;
  };
  std::vector<F> list;
  std::string current;
  ws::FrameHeader header;
  void onFrameStart(const ws::FrameHeader& h) {
    header = h;
    current.clear();
  }
  void onPayload(std::span<std::byte> d) {
    current.append(reinterpret_cast<char*>(d.data()), d.size());
  }
  void onFrameEnd(const ws::FrameHeader&) {
    list.push_back({header.opcode, header.fin, header.masked, header.mask, current});
  }
  void onControl(ws::Opcode op, std::span<const std::byte> p) {
    list.push_back(
        {op, true, false, {}, std::string(reinterpret_cast<const char*>(p.data()), p.size())});
  }
  void onClose(std::uint16_t code, std::string_view reason) {
    list.push_back(
        {ws::Opcode::kClose, true, false, {}, std::to_string(code) + ":" + std::string(reason)});
  }
};

template <ws::Role R>
Frames parseOutput(Bytes wire) {
  Frames f;
  ws::FrameParser<R> p;
  p.feed(wire, f);
  return f;
}

struct Fixture {
  ws::MaskKeySource masks;
  io::ChunkPool pool;
  io::SendQueue out{pool};
  ws::FrameParserOptions limits;
};

TEST(Relay, ClientFramesAreRemaskedWithAFreshKey) {
  Fixture fx;
  ClientToBackend relay(fx.limits, fx.masks);
  Bytes in = frame(ws::Opcode::kText, "hello backend");
  EXPECT_EQ(relay.feed(in, fx.out).status, RelayResult::Status::kOk);
  const Bytes wire = drain(fx.out);
  const Frames got = parseOutput<ws::Role::kServer>(wire);  // the backend's view
  ASSERT_EQ(got.list.size(), 1u);
  EXPECT_TRUE(got.list[0].masked);
  EXPECT_NE(got.list[0].key, (ws::MaskKey{0xA1, 0xB2, 0xC3, 0xD4}))
      << "the client's key is not reused";
  EXPECT_EQ(got.list[0].payload, "hello backend");
}

TEST(Relay, BackendFramesGoOutUnmaskedAndByteIdentical) {
  Fixture fx;
  BackendToClient relay(fx.limits, fx.masks);
  const Bytes in = frame(ws::Opcode::kBinary, std::string(300, 'z'), true, false) +
                   frame(ws::Opcode::kPing, "p", true, false);
  Bytes copy = in;
  EXPECT_EQ(relay.feed(copy, fx.out).status, RelayResult::Status::kOk);
  EXPECT_EQ(drain(fx.out), in);
}

TEST(Relay, FrameBoundariesSurviveAnySplitOfTheInput) {
  // A fragmented text message with a ping between fragments, split anywhere.
  const Bytes in = frame(ws::Opcode::kText, "frag-one ", false, false) +
                   frame(ws::Opcode::kPing, "hb", true, false) +
                   frame(ws::Opcode::kContinuation, "frag-two", true, false);
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    Fixture fx;
    BackendToClient relay(fx.limits, fx.masks);
    Bytes a(in.begin(), in.begin() + cut), b(in.begin() + cut, in.end());
    relay.feed(a, fx.out);
    relay.feed(b, fx.out);
    ASSERT_EQ(drain(fx.out), in) << "cut " << cut;
  }
}

TEST(Relay, HalfGatheredFrameIsNeverSent) {
  Fixture fx;
  BackendToClient relay(fx.limits, fx.masks);
  Bytes in = frame(ws::Opcode::kBinary, std::string(1000, 'q'), true, false);
  Bytes head(in.begin(), in.begin() + 500);
  relay.feed(head, fx.out);
  EXPECT_EQ(fx.out.pending(), 0u) << "nothing of an incomplete frame may be sendable";
  // The backend dies here: the proxy sends 1014 instead.
  relay.sendClose(fx.out, 1014, "backend went away");
  const Frames got = parseOutput<ws::Role::kClient>(drain(fx.out));
  ASSERT_EQ(got.list.size(), 1u);
  EXPECT_EQ(got.list[0].op, ws::Opcode::kClose);
  EXPECT_EQ(got.list[0].payload, "1014:backend went away");
}

TEST(Relay, AnnouncedLengthTakesNoRoomUntilThePayloadArrives) {
  // A header announcing 65535 bytes, then nothing: the proxy must not hold
  // 64 KiB for a peer that sent 8 bytes.
  Fixture fx;
  ClientToBackend relay(fx.limits, fx.masks);
  std::string payload(65535, ' ');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  const Bytes in = frame(ws::Opcode::kBinary, payload);
  Bytes header(in.begin(), in.begin() + 8);  // 2 + 2 (length) + 4 (key)
  EXPECT_EQ(relay.feed(header, fx.out).status, RelayResult::Status::kOk);
  EXPECT_EQ(fx.out.uncommitted(), 8u);
  EXPECT_EQ(fx.out.pending(), 0u);
  EXPECT_LE(fx.pool.bytesInUse(), 4096u);
  // The rest, in uneven pieces that cross chunk boundaries, still makes one whole frame.
  const std::size_t cuts[] = {8, 1000, 5000, 40000, in.size()};
  for (std::size_t i = 0; i + 1 < std::size(cuts); ++i) {
    Bytes piece(in.begin() + static_cast<std::ptrdiff_t>(cuts[i]),
                in.begin() + static_cast<std::ptrdiff_t>(cuts[i + 1]));
    EXPECT_EQ(relay.feed(piece, fx.out).status, RelayResult::Status::kOk);
    if (i + 2 < std::size(cuts)) {
      EXPECT_EQ(fx.out.pending(), 0u) << "piece " << i;
    }
  }
  const Frames got = parseOutput<ws::Role::kServer>(drain(fx.out));
  ASSERT_EQ(got.list.size(), 1u);
  EXPECT_TRUE(got.list[0].fin);
  EXPECT_EQ(got.list[0].payload, payload);
}

TEST(Relay, LargeFramesAreCutIntoCompleteFragments) {
  Fixture fx;
  ClientToBackend relay(fx.limits, fx.masks);
  std::string payload(300000, 'x');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  Bytes in = frame(ws::Opcode::kBinary, payload);
  // Arrives in uneven pieces, as TCP would deliver it.
  std::mt19937 rng(3);
  std::size_t pos = 0;
  Bytes wire;
  while (pos < in.size()) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 20000, in.size() - pos);
    std::span<std::byte> piece(in.data() + pos, n);
    ASSERT_EQ(relay.feed(piece, fx.out).status, RelayResult::Status::kOk);
    pos += n;
    const Bytes sent = drain(fx.out);
    wire.insert(wire.end(), sent.begin(), sent.end());
  }
  const Frames got = parseOutput<ws::Role::kServer>(wire);
  ASSERT_GT(got.list.size(), 1u);
  std::string joined;
  for (std::size_t i = 0; i < got.list.size(); ++i) {
    EXPECT_EQ(got.list[i].op, i == 0 ? ws::Opcode::kBinary : ws::Opcode::kContinuation);
    EXPECT_EQ(got.list[i].fin, i + 1 == got.list.size());
    joined += got.list[i].payload;
  }
  EXPECT_EQ(joined, payload);
}

TEST(Relay, ABigFrameDrippedByteByByteIsNotSentByteByByte) {
  // Each byte behind a header of its own would be 7 bytes toward the backend.
  for (bool masked : {true, false}) {
    Fixture fx;
    ClientToBackend toBackend(fx.limits, fx.masks);
    BackendToClient toClient(fx.limits, fx.masks);
    std::string payload(100000, ' ');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 23);
    Bytes in = frame(ws::Opcode::kBinary, payload, true, masked);
    Bytes wire;
    for (std::size_t i = 0; i < in.size(); ++i) {
      std::span<std::byte> one(in.data() + i, 1);
      const RelayResult r = masked ? toBackend.feed(one, fx.out) : toClient.feed(one, fx.out);
      ASSERT_EQ(r.status, RelayResult::Status::kOk);
      const Bytes sent = drain(fx.out);
      wire.insert(wire.end(), sent.begin(), sent.end());
    }
    const Frames got =
        masked ? parseOutput<ws::Role::kServer>(wire) : parseOutput<ws::Role::kClient>(wire);
    std::string joined;
    for (const auto& f : got.list) joined += f.payload;
    EXPECT_EQ(joined, payload);
    EXPECT_LE(got.list.size(), payload.size() / ClientToBackend::kMinCutPiece + 1);
    EXPECT_LT(wire.size(), payload.size() + payload.size() / 100) << "about 1x, not 7x";
    EXPECT_TRUE(got.list.back().fin);
  }
}

TEST(Relay, FramesCompletedCountsFramesNotBytes) {
  Fixture fx;
  ClientToBackend relay(fx.limits, fx.masks);
  Bytes in = frame(ws::Opcode::kText, "abc") + frame(ws::Opcode::kPing, "p");
  Bytes first(in.begin(), in.begin() + 4), rest(in.begin() + 4, in.end());
  relay.feed(first, fx.out);
  EXPECT_EQ(relay.framesCompleted(), 0u) << "a frame that has not ended is not activity";
  relay.feed(rest, fx.out);
  EXPECT_EQ(relay.framesCompleted(), 2u);
}

TEST(Relay, CutThroughThenSourceDiesLeavesAnUnfinishedMessageAndAClose) {
  Fixture fx;
  BackendToClient relay(fx.limits, fx.masks);
  Bytes in = frame(ws::Opcode::kText, std::string(200000, 'a'), true, false);
  Bytes part(in.begin(), in.begin() + 100000);
  relay.feed(part, fx.out);
  relay.sendClose(fx.out, 1014, "backend went away");
  const Frames got = parseOutput<ws::Role::kClient>(drain(fx.out));
  ASSERT_GE(got.list.size(), 2u);
  for (std::size_t i = 0; i + 1 < got.list.size(); ++i) EXPECT_FALSE(got.list[i].fin);
  EXPECT_EQ(got.list.back().op, ws::Opcode::kClose);
}

TEST(Relay, CloseIsForwardedAndReported) {
  Fixture fx;
  ClientToBackend relay(fx.limits, fx.masks);
  Bytes in = frame(ws::Opcode::kClose, std::string("\x0f\xa0", 2) + "done");  // 4000
  const RelayResult r = relay.feed(in, fx.out);
  EXPECT_EQ(r.status, RelayResult::Status::kClosed);
  EXPECT_EQ(r.code, 4000);
  EXPECT_EQ(r.reason, "done");
  EXPECT_TRUE(relay.closeSent());
  const Frames got = parseOutput<ws::Role::kServer>(drain(fx.out));
  ASSERT_EQ(got.list.size(), 1u);
  EXPECT_EQ(got.list[0].payload, "4000:done");
  // An empty close stays empty.
  Fixture fy;
  BackendToClient r2(fy.limits, fy.masks);
  Bytes empty = frame(ws::Opcode::kClose, "", true, false);
  EXPECT_EQ(r2.feed(empty, fy.out).code, 1005);
  EXPECT_EQ(drain(fy.out), frame(ws::Opcode::kClose, "", true, false));
}

TEST(Relay, ProtocolErrorsReportTheCodeAndForwardNothingBad) {
  Fixture fx;
  ClientToBackend relay(fx.limits, fx.masks);
  Bytes in = frame(ws::Opcode::kText, "ok") + frame(ws::Opcode::kText, "bad \xff utf8");
  const RelayResult r = relay.feed(in, fx.out);
  EXPECT_EQ(r.status, RelayResult::Status::kError);
  EXPECT_EQ(r.code, 1007);
  relay.sendClose(fx.out, 1001, "client protocol error");
  const Frames got = parseOutput<ws::Role::kServer>(drain(fx.out));
  ASSERT_EQ(got.list.size(), 2u);
  EXPECT_EQ(got.list[0].payload, "ok");
  EXPECT_EQ(got.list[1].payload, "1001:client protocol error");
}

// Keeps the text messages that start with "edge:" (as from_backend:
// control keeps {"wsedge": ...}), and remembers what it saw.
struct KeepEdge final : MessageFilter {
  bool wants(std::span<const std::byte> head) const override {
    const std::string_view s(reinterpret_cast<const char*>(head.data()), head.size());
    return s.substr(0, 5) == "edge:";
  }
  bool consume(std::span<const std::byte> payload) override {
    seen.emplace_back(reinterpret_cast<const char*>(payload.data()), payload.size());
    return seen.back() != "edge:pass";
  }
  std::vector<std::string> seen;
};

TEST(Relay, AFilterKeepsWholeTextMessagesAndNothingElse) {
  Fixture fx;
  BackendToClient relay(fx.limits, fx.masks);
  KeepEdge filter;
  relay.filterWith(&filter);
  const std::string big = "edge:" + std::string(5000, 'x');  // gathered over several pieces
  const Bytes in = frame(ws::Opcode::kText, "edge:one", true, false) +
                   frame(ws::Opcode::kText, "hello", true, false) +
                   frame(ws::Opcode::kBinary, "edge:binary", true, false) +
                   frame(ws::Opcode::kText, "edge:frag", false, false) +
                   frame(ws::Opcode::kContinuation, "ment", true, false) +
                   frame(ws::Opcode::kText, "edge:pass", true, false) +
                   frame(ws::Opcode::kText, big, true, false);
  // Byte by byte: a kept message may arrive in any pieces.
  for (std::size_t i = 0; i < in.size(); ++i) {
    Bytes one{in[i]};
    ASSERT_EQ(relay.feed(one, fx.out).status, RelayResult::Status::kOk);
  }
  const Frames got = parseOutput<ws::Role::kClient>(drain(fx.out));
  std::vector<std::string> payloads;
  for (const auto& f : got.list) payloads.push_back(f.payload);
  EXPECT_EQ(payloads,
            (std::vector<std::string>{"hello", "edge:binary", "edge:frag", "ment", "edge:pass"}))
      << "kept: the whole single-frame text messages the filter took; a fragmented or binary "
         "message is never looked at";
  EXPECT_EQ(filter.seen, (std::vector<std::string>{"edge:one", "edge:pass", big}));
  EXPECT_EQ(relay.messagesForwarded(), 4u) << "a kept message is not counted as forwarded";
}

TEST(Relay, AMessageBoundaryIsWhereNothingOfAMessageIsOut) {
  Fixture fx;
  BackendToClient relay(fx.limits, fx.masks);
  EXPECT_TRUE(relay.atMessageBoundary());
  Bytes first = frame(ws::Opcode::kText, "frag-", false, false);
  relay.feed(first, fx.out);
  EXPECT_FALSE(relay.atMessageBoundary()) << "a fragmented message is open";
  Bytes last = frame(ws::Opcode::kContinuation, "ment", true, false);
  Bytes half(last.begin(), last.begin() + 3);
  relay.feed(half, fx.out);
  EXPECT_FALSE(relay.atMessageBoundary()) << "its last frame is being gathered";
  Bytes rest(last.begin() + 3, last.end());
  relay.feed(rest, fx.out);
  EXPECT_TRUE(relay.atMessageBoundary());
  relay.sendClose(fx.out, 1001, "bye");
  EXPECT_FALSE(relay.atMessageBoundary()) << "nothing goes after a close";
}

TEST(GrantedPush, WhatLooksLikeAControlMessage) {
  const auto looks = [](std::string_view s) {
    return looksLikeControl(std::as_bytes(std::span(s)));
  };
  EXPECT_TRUE(looks(R"({"wsedge":{"subscribe":["a"]}})"));
  EXPECT_TRUE(looks(" \n{ \t\"wsedge\" : {}}"));
  EXPECT_FALSE(looks(R"({"wsedgex":1})"));
  EXPECT_FALSE(looks(R"({"type":"wsedge"})"));
  EXPECT_FALSE(looks(R"(["wsedge"])"));
  EXPECT_FALSE(looks(""));
}

}  // namespace
}  // namespace wsedge::proxy
