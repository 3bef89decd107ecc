#include "proxy/ws/frame_parser.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "proxy/ws/frame_writer.h"

namespace wsedge::ws {
namespace {

using Bytes = std::vector<std::byte>;

Bytes raw(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(static_cast<std::byte>(x));
  return b;
}

Bytes text(std::string_view s) {
  return Bytes(reinterpret_cast<const std::byte*>(s.data()),
               reinterpret_cast<const std::byte*>(s.data()) + s.size());
}

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Frames as a client (masked) or server (unmasked) would write them.
Bytes frame(Opcode op, std::string_view payload, bool fin = true, bool masked = true,
            std::uint8_t rsv = 0) {
  Bytes out;
  FrameHeader h;
  h.fin = fin;
  h.rsv = rsv;
  h.opcode = op;
  h.masked = masked;
  h.mask = {0x11, 0x22, 0x33, 0x44};
  appendFrame(out, h, text(payload));
  return out;
}

// Records events as text so whole runs compare with one EXPECT_EQ. Payload
// pieces of one frame are joined, so the record is the same however the
// input was split.
struct Recorder {
  std::string log;
  std::string payload;
  void onFrameStart(const FrameHeader& h) {
    log += "start(" + std::to_string(static_cast<int>(h.opcode)) + (h.fin ? ",fin" : "") +
           (h.rsv ? ",rsv" : "") + "," + std::to_string(h.length) + ")";
    payload.clear();
  }
  void onPayload(std::span<std::byte> d) {
    payload.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  void onFrameEnd(const FrameHeader&) { log += "[" + payload + "]end "; }
  void onControl(Opcode op, std::span<const std::byte> p) {
    log += "ctl(" + std::to_string(static_cast<int>(op)) + ",";
    log.append(reinterpret_cast<const char*>(p.data()), p.size());
    log += ") ";
  }
  void onClose(std::uint16_t code, std::string_view reason) {
    log += "close(" + std::to_string(code) + "," + std::string(reason) + ") ";
  }
};

struct Outcome {
  std::string log;
  ParseStatus status;
  std::uint16_t code;
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "log=" << o.log << " status=" << static_cast<int>(o.status) << " code=" << o.code;
}

template <Role R>
Outcome runPieces(const Bytes& input, const std::vector<std::size_t>& cuts,
                  FrameParserOptions limits) {
  FrameParser<R> parser(limits);
  Recorder rec;
  Bytes work = input;  // the parser unmasks in place
  std::size_t pos = 0;
  ParseStatus st = ParseStatus::kOk;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(work.size());
  for (std::size_t end : ends) {
    if (end < pos) continue;
    st = parser.feed(std::span(work).subspan(pos, end - pos), rec);
    pos = end;
    if (st != ParseStatus::kOk) break;
  }
  return {rec.log, st, st == ParseStatus::kError ? toWire(parser.error().code) : std::uint16_t{0}};
}

// Parses input whole, then split at every point, then one byte at a time,
// and requires the same outcome each way. Returns the outcome.
template <Role R>
Outcome parseAllSplits(const Bytes& input, FrameParserOptions limits = {}) {
  const Outcome whole = runPieces<R>(input, {}, limits);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    EXPECT_EQ(runPieces<R>(input, {cut}, limits), whole) << "split at " << cut;
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
  EXPECT_EQ(runPieces<R>(input, every, limits), whole) << "one byte at a time";
  return whole;
}

Outcome server(const Bytes& in, FrameParserOptions l = {}) {
  return parseAllSplits<Role::kServer>(in, l);
}
Outcome client(const Bytes& in, FrameParserOptions l = {}) {
  return parseAllSplits<Role::kClient>(in, l);
}

std::uint16_t serverError(const Bytes& in, FrameParserOptions l = {}) {
  const Outcome o = server(in, l);
  EXPECT_EQ(o.status, ParseStatus::kError) << o;
  return o.code;
}

// --- Valid traffic -----------------------------------------------------------

TEST(FrameParser, Rfc6455MaskedHello) {
  // RFC 6455 §5.7: a single-frame masked text message.
  const Outcome o = server(raw({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(o.log, "start(1,fin,5)[Hello]end ");
}

TEST(FrameParser, Rfc6455UnmaskedFragmentsAndPing) {
  // RFC 6455 §5.7: "Hel" + "lo" in two fragments, then an unmasked ping.
  const Outcome o = client(
      raw({0x01, 0x03, 'H', 'e', 'l', 0x80, 0x02, 'l', 'o', 0x89, 0x05, 'H', 'e', 'l', 'l', 'o'}));
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(o.log, "start(1,3)[Hel]end start(0,fin,2)[lo]end ctl(9,Hello) ");
}

TEST(FrameParser, ExtendedLengths) {
  const std::string p126(126, 'x'), p65535(65535, 'y'), p65536(65536, 'z');
  for (const std::string* p : {&p126, &p65535, &p65536}) {
    const Outcome o = runPieces<Role::kServer>(frame(Opcode::kBinary, *p), {1, 3, 9}, {});
    EXPECT_EQ(o.log, "start(2,fin," + std::to_string(p->size()) + ")[" + *p + "]end ");
  }
  // Exact header bytes for 256 and 65536 (RFC 6455 §5.7).
  EXPECT_EQ(client(raw({0x82, 0x7E, 0x01, 0x00}) + Bytes(256)).status, ParseStatus::kOk);
  EXPECT_EQ(
      runPieces<Role::kClient>(raw({0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}) + Bytes(65536), {5}, {})
          .status,
      ParseStatus::kOk);
}

TEST(FrameParser, ZeroLengthFramesAndControlInterleaved) {
  const Bytes in = frame(Opcode::kText, "", false) + frame(Opcode::kPing, "p") +
                   frame(Opcode::kContinuation, "ab", false) + frame(Opcode::kPong, "") +
                   frame(Opcode::kContinuation, "", true) + frame(Opcode::kBinary, "");
  const Outcome o = server(in);
  EXPECT_EQ(o.status, ParseStatus::kOk);
  EXPECT_EQ(o.log,
            "start(1,0)[]end ctl(9,p) start(0,2)[ab]end ctl(10,) start(0,fin,0)[]end "
            "start(2,fin,0)[]end ");
}

TEST(FrameParser, CloseWithCodeAndReasonStopsTheParser) {
  Bytes payload = raw({0x03, 0xE8}) + text("bye κόσμε");
  Bytes in;
  FrameHeader h;
  h.opcode = Opcode::kClose;
  h.masked = true;
  h.mask = {1, 2, 3, 4};
  appendFrame(in, h, payload);
  const Bytes trailing = frame(Opcode::kText, "after close");
  const Outcome o = server(in + trailing);
  EXPECT_EQ(o.status, ParseStatus::kClosed);
  EXPECT_EQ(o.log, "close(1000,bye κόσμε) ");

  ServerFrameParser p;
  Recorder rec;
  Bytes work = in + trailing;
  std::size_t used = 0;
  EXPECT_EQ(p.feed(work, rec, &used), ParseStatus::kClosed);
  EXPECT_EQ(used, in.size()) << "bytes after the close frame are left unconsumed";
}

TEST(FrameParser, EmptyCloseReportsNoStatus) {
  EXPECT_EQ(server(frame(Opcode::kClose, "")).log, "close(1005,) ");
}

TEST(FrameParser, ValidCloseCodes) {
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                   3999, 4000, 4999}) {
    const Bytes in = frame(Opcode::kClose, std::string{char(code >> 8), char(code & 0xFF)});
    EXPECT_EQ(server(in).status, ParseStatus::kClosed) << code;
  }
}

TEST(FrameParser, Rsv1AllowedWhenPerMessageDeflateNegotiated) {
  FrameParserOptions limits;
  limits.allowedRsv = kRsv1;
  // Compressed text is not UTF-8: it must not be validated.
  const Bytes in = frame(Opcode::kText, "\xff\xfe", false, true, kRsv1) +
                   frame(Opcode::kContinuation, "\x80", true);
  const Outcome o = server(in, limits);
  EXPECT_EQ(o.status, ParseStatus::kOk) << o;
  EXPECT_EQ(o.log, "start(1,rsv,2)[\xff\xfe]end start(0,fin,1)[\x80]end ");
}

TEST(FrameParser, Utf8ValidationCanBeTurnedOff) {
  FrameParserOptions limits;
  limits.validateUtf8 = false;
  EXPECT_EQ(server(frame(Opcode::kText, "\xc0\x80"), limits).status, ParseStatus::kOk);
}

TEST(FrameParser, PayloadCanStayMaskedAndTextIsStillValidated) {
  FrameParserOptions limits;
  limits.unmask = false;
  // Delivered bytes are still masked with the frame's key (11 22 33 44).
  const std::string text = "κόσμε " + std::string(5000, 'x') + " 😀";
  const Outcome o = server(frame(Opcode::kText, text), limits);
  ASSERT_EQ(o.status, ParseStatus::kOk);
  const std::size_t open = o.log.find('[') + 1;
  std::string got = o.log.substr(open, o.log.rfind(']') - open);
  ASSERT_EQ(got.size(), text.size());
  const std::uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
  for (std::size_t i = 0; i < got.size(); ++i) got[i] = static_cast<char>(got[i] ^ key[i % 4]);
  EXPECT_EQ(got, text);
  // Invalid UTF-8 past the first scratch block is still caught, at any split.
  EXPECT_EQ(serverError(frame(Opcode::kText, std::string(5000, 'y') + "\xc3\x28"), limits), 1007);
  EXPECT_EQ(
      serverError(frame(Opcode::kText, "a\xe2\x82", false) + frame(Opcode::kContinuation, "\x28"),
                  limits),
      1007);
  // Control payloads are always unmasked.
  EXPECT_EQ(server(frame(Opcode::kPing, "hi"), limits).log, "ctl(9,hi) ");
}

TEST(FrameParser, TextSplitAcrossFragmentsMidCodePoint) {
  // "€" is E2 82 AC: split over two frames.
  const Bytes in = frame(Opcode::kText, "a\xe2\x82", false) + frame(Opcode::kContinuation, "\xac");
  EXPECT_EQ(server(in).status, ParseStatus::kOk);
}

// --- The close-code table of the issue: one test per row ---------------------

// A sink that admits a given number of data messages.
struct Gate : Recorder {
  int admits = 0;
  bool admit(const FrameHeader&) { return admits > 0 ? (--admits, true) : false; }
};

TEST(FrameParser, ASinkCanHoldBackANewMessageAndAdmitItLater) {
  Bytes in = frame(Opcode::kText, "one") + frame(Opcode::kText, "tw", false) +
             frame(Opcode::kPing, "p") + frame(Opcode::kContinuation, "o") +
             frame(Opcode::kBinary, "three");
  Gate sink;
  sink.admits = 1;
  ServerFrameParser p;
  std::size_t consumed = 0;
  EXPECT_EQ(p.feed(in, sink, &consumed), ParseStatus::kHeld);
  EXPECT_EQ(sink.log, "start(1,fin,3)[one]end ");
  EXPECT_EQ(consumed, frame(Opcode::kText, "one").size() + 6) << "the second header is read";
  Bytes rest(in.begin() + static_cast<std::ptrdiff_t>(consumed), in.end());
  EXPECT_EQ(p.feed({}, sink, &consumed), ParseStatus::kHeld) << "still no admission";
  EXPECT_EQ(consumed, 0u);
  sink.admits = 1;
  EXPECT_EQ(p.feed(rest, sink, &consumed), ParseStatus::kHeld);
  EXPECT_EQ(sink.log, "start(1,fin,3)[one]end start(1,2)[tw]end ctl(9,p) start(0,fin,1)[o]end ")
      << "control frames and continuations need no admission";
  sink.admits = 1;
  rest.erase(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(consumed));
  EXPECT_EQ(p.feed(rest, sink, &consumed), ParseStatus::kOk);
  EXPECT_EQ(consumed, rest.size());
  EXPECT_NE(sink.log.find("start(2,fin,5)[three]end"), std::string::npos);
}

TEST(FrameParserErrors, RsvBitsWithoutExtension) {
  EXPECT_EQ(serverError(frame(Opcode::kText, "x", true, true, kRsv1)), 1002);
  EXPECT_EQ(serverError(frame(Opcode::kText, "x", true, true, kRsv2)), 1002);
  EXPECT_EQ(serverError(frame(Opcode::kBinary, "x", true, true, kRsv3)), 1002);
  FrameParserOptions limits;
  limits.allowedRsv = kRsv1;
  EXPECT_EQ(serverError(frame(Opcode::kText, "x", true, true, kRsv2), limits), 1002);
}

TEST(FrameParserErrors, Rsv1OnControlOrContinuation) {
  FrameParserOptions limits;
  limits.allowedRsv = kRsv1;
  EXPECT_EQ(serverError(frame(Opcode::kPing, "x", true, true, kRsv1), limits), 1002);
  EXPECT_EQ(serverError(frame(Opcode::kText, "a", false, true, kRsv1) +
                            frame(Opcode::kContinuation, "b", true, true, kRsv1),
                        limits),
            1002);
}

TEST(FrameParserErrors, ReservedOpcodes) {
  for (int op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    EXPECT_EQ(serverError(raw({0x80 | op, 0x80, 1, 2, 3, 4})), 1002) << op;
  }
}

TEST(FrameParserErrors, FragmentedOrOversizeControlFrame) {
  EXPECT_EQ(serverError(frame(Opcode::kPing, "x", false)), 1002);
  EXPECT_EQ(serverError(frame(Opcode::kClose, "", false)), 1002);
  EXPECT_EQ(serverError(frame(Opcode::kPong, std::string(126, 'p'))), 1002);
  EXPECT_EQ(server(frame(Opcode::kPing, std::string(125, 'p'))).status, ParseStatus::kOk);
}

TEST(FrameParserErrors, ContinuationWithNoMessage) {
  EXPECT_EQ(serverError(frame(Opcode::kContinuation, "x")), 1002);
  // Also after a message has finished.
  EXPECT_EQ(serverError(frame(Opcode::kText, "a") + frame(Opcode::kContinuation, "b")), 1002);
}

TEST(FrameParserErrors, NewDataFrameInsideFragmentedMessage) {
  EXPECT_EQ(serverError(frame(Opcode::kText, "a", false) + frame(Opcode::kBinary, "b")), 1002);
  EXPECT_EQ(serverError(frame(Opcode::kBinary, "a", false) + frame(Opcode::kText, "b")), 1002);
}

TEST(FrameParserErrors, MaskingDependsOnRole) {
  EXPECT_EQ(serverError(frame(Opcode::kText, "x", true, /*masked=*/false)), 1002);
  const Outcome o = client(frame(Opcode::kText, "x", true, /*masked=*/true));
  EXPECT_EQ(o.status, ParseStatus::kError);
  EXPECT_EQ(o.code, 1002);
}

TEST(FrameParserErrors, NonMinimalLengths) {
  // 16-bit form carrying 125, 64-bit form carrying 65535, top bit set.
  EXPECT_EQ(serverError(raw({0x82, 0xFE, 0x00, 0x7D, 1, 2, 3, 4})), 1002);
  EXPECT_EQ(serverError(raw({0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4})), 1002);
  EXPECT_EQ(serverError(raw({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})), 1002);
}

TEST(FrameParserErrors, ClosePayloadOfOneByte) {
  EXPECT_EQ(serverError(frame(Opcode::kClose, "\x03")), 1002);
}

TEST(FrameParserErrors, InvalidCloseCodes) {
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    EXPECT_EQ(serverError(frame(Opcode::kClose, std::string{char(code >> 8), char(code & 0xFF)})),
              1002)
        << code;
  }
}

TEST(FrameParserErrors, InvalidUtf8InCloseReason) {
  EXPECT_EQ(serverError(frame(Opcode::kClose,
                              "\x03\xe8"
                              "bad\xff")),
            1007);
}

TEST(FrameParserErrors, InvalidUtf8InText) {
  EXPECT_EQ(serverError(frame(Opcode::kText, "caf\xc3")), 1007);  // truncated at message end
  EXPECT_EQ(serverError(frame(Opcode::kText, "\xed\xa0\x80")), 1007);
  // Fails fast: the first fragment is rejected before the message ends, and
  // its bytes are never handed to the sink.
  ServerFrameParser p;
  Recorder rec;
  Bytes in = frame(Opcode::kText, "ok\xf4\x90", false);
  EXPECT_EQ(p.feed(in, rec), ParseStatus::kError);
  EXPECT_EQ(toWire(p.error().code), 1007);
  EXPECT_EQ(rec.log, "start(1,4)") << "no payload delivered";
}

TEST(FrameParserErrors, FrameOverLimit) {
  FrameParserOptions limits;
  limits.maxFrameSize = 100;
  EXPECT_EQ(serverError(frame(Opcode::kBinary, std::string(101, 'x')), limits), 1009);
  EXPECT_EQ(server(frame(Opcode::kBinary, std::string(100, 'x')), limits).status, ParseStatus::kOk);
  // Refused at the header: a huge declared length needs no payload to fail.
  ServerFrameParser p(limits);
  Recorder rec;
  Bytes header = raw({0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4});
  EXPECT_EQ(p.feed(header, rec), ParseStatus::kError);
  EXPECT_EQ(toWire(p.error().code), 1009);
}

TEST(FrameParserErrors, MessageOverLimitAcrossFragments) {
  FrameParserOptions limits;
  limits.maxMessageSize = 100;
  const Bytes ok = frame(Opcode::kText, std::string(60, 'a'), false) +
                   frame(Opcode::kContinuation, std::string(40, 'b'));
  EXPECT_EQ(server(ok, limits).status, ParseStatus::kOk);
  const Bytes over = frame(Opcode::kText, std::string(60, 'a'), false) +
                     frame(Opcode::kContinuation, std::string(41, 'b'));
  EXPECT_EQ(serverError(over, limits), 1009);
  // The count restarts with each message.
  EXPECT_EQ(server(ok + ok, limits).status, ParseStatus::kOk);
}

TEST(FrameParserErrors, TooManyFragmentsInOneMessage) {
  FrameParserOptions limits;
  limits.maxFragments = 3;
  const Bytes three = frame(Opcode::kText, "a", false) + frame(Opcode::kContinuation, "b", false) +
                      frame(Opcode::kContinuation, "c");
  EXPECT_EQ(server(three + three, limits).status, ParseStatus::kOk) << "the count is per message";
  const Bytes four = frame(Opcode::kText, "a", false) + frame(Opcode::kContinuation, "b", false) +
                     frame(Opcode::kContinuation, "c", false) + frame(Opcode::kContinuation, "d");
  EXPECT_EQ(serverError(four, limits), 1009);
}

TEST(FrameParser, HugeDeclaredLengthWithinLimitIsAccepted) {
  // Lengths near 2^63 are only compared, never allocated for.
  FrameParserOptions limits;
  limits.maxFrameSize = ~std::uint64_t{0};
  limits.maxMessageSize = (std::uint64_t{1} << 63) + 10;
  ServerFrameParser p(limits);
  Recorder rec;
  // A first fragment declaring 2^63-1 bytes is allowed (header only).
  Bytes big = raw({0x02, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0});
  EXPECT_EQ(p.feed(big, rec), ParseStatus::kOk);
  EXPECT_TRUE(p.midFrame());
}

TEST(FrameParserErrors, ErrorIsSticky) {
  ServerFrameParser p;
  Recorder rec;
  Bytes bad = frame(Opcode::kText, "x", true, false);
  EXPECT_EQ(p.feed(bad, rec), ParseStatus::kError);
  Bytes good = frame(Opcode::kText, "y");
  EXPECT_EQ(p.feed(good, rec), ParseStatus::kError);
  EXPECT_EQ(rec.log, "");
}

}  // namespace
}  // namespace wsedge::ws
