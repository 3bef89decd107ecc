#include "proxy/ws/frame_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/ws/frame_parser.h"

namespace wsedge::ws {
namespace {

std::vector<std::uint8_t> header(FrameHeader h) {
  std::byte buf[kMaxFrameHeaderSize];
  const std::size_t n = writeFrameHeader(buf, h);
  EXPECT_EQ(n, frameHeaderSize(h.length, h.masked));
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(std::to_integer<std::uint8_t>(buf[i]));
  return out;
}

TEST(FrameWriter, MinimalLengthEncoding) {
  FrameHeader h;
  h.opcode = Opcode::kBinary;
  h.length = 0;
  EXPECT_EQ(header(h), (std::vector<std::uint8_t>{0x82, 0x00}));
  h.length = 125;
  EXPECT_EQ(header(h), (std::vector<std::uint8_t>{0x82, 125}));
  h.length = 126;
  EXPECT_EQ(header(h), (std::vector<std::uint8_t>{0x82, 126, 0x00, 126}));
  h.length = 65535;
  EXPECT_EQ(header(h), (std::vector<std::uint8_t>{0x82, 126, 0xFF, 0xFF}));
  h.length = 65536;
  EXPECT_EQ(header(h), (std::vector<std::uint8_t>{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}));
}

TEST(FrameWriter, FlagsAndMask) {
  FrameHeader h;
  h.fin = false;
  h.rsv = kRsv1;
  h.opcode = Opcode::kText;
  h.masked = true;
  h.mask = {0x37, 0xfa, 0x21, 0x3d};
  h.length = 5;
  EXPECT_EQ(header(h), (std::vector<std::uint8_t>{0x41, 0x85, 0x37, 0xfa, 0x21, 0x3d}));
}

TEST(FrameWriter, MaskedFrameMatchesRfcExample) {
  std::vector<std::byte> out;
  FrameHeader h;
  h.opcode = Opcode::kText;
  h.masked = true;
  h.mask = {0x37, 0xfa, 0x21, 0x3d};
  const std::string hello = "Hello";
  appendFrame(out, h, std::as_bytes(std::span(hello)));
  const std::vector<std::uint8_t> expected{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                           0x7f, 0x9f, 0x4d, 0x51, 0x58};
  ASSERT_EQ(out.size(), expected.size());
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(std::to_integer<int>(out[i]), expected[i]);
}

struct Collect {
  std::string payload;
  std::uint16_t closeCode = 0;
  std::string closeReason;
  void onFrameStart(const FrameHeader&) {}
  void onPayload(std::span<std::byte> d) {
    payload.append(reinterpret_cast<char*>(d.data()), d.size());
  }
  void onFrameEnd(const FrameHeader&) {}
  void onControl(Opcode, std::span<const std::byte>) {}
  void onClose(std::uint16_t c, std::string_view r) {
    closeCode = c;
    closeReason = r;
  }
};

TEST(FrameWriter, RoundTripsThroughTheParserAtBoundaryLengths) {
  for (std::size_t len : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 70000u}) {
    std::string payload(len, 'q');
    for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::vector<std::byte> out;
    FrameHeader h;
    h.opcode = Opcode::kText;
    h.masked = true;
    h.mask = {9, 8, 7, 6};
    appendFrame(out, h, std::as_bytes(std::span(payload)));
    ServerFrameParser p;
    Collect c;
    ASSERT_EQ(p.feed(out, c), ParseStatus::kOk);
    EXPECT_EQ(c.payload, payload) << len;
  }
}

TEST(FrameWriter, ClosePayloadTruncatesAtACodePointBoundary) {
  std::byte buf[kMaxControlPayload];
  EXPECT_EQ(writeClosePayload(buf, 1001, "going"), 7u);
  EXPECT_EQ(std::to_integer<int>(buf[0]), 0x03);
  EXPECT_EQ(std::to_integer<int>(buf[1]), 0xE9);
  // 61 two-byte characters = 122 bytes fit; one more would need 124 > 123.
  std::string reason;
  for (int i = 0; i < 70; ++i) reason += "é";
  const std::size_t n = writeClosePayload(buf, 1000, reason);
  EXPECT_EQ(n, 2u + 122u);
  EXPECT_TRUE(isValidUtf8(std::span<const std::byte>(buf + 2, n - 2)));
  // And the frame it makes is accepted by a parser.
  std::vector<std::byte> frame;
  FrameHeader h;
  h.opcode = Opcode::kClose;
  appendFrame(frame, h, std::span<const std::byte>(buf, n));
  ClientFrameParser p;
  Collect c;
  EXPECT_EQ(p.feed(frame, c), ParseStatus::kClosed);
  EXPECT_EQ(c.closeCode, 1000);
}

}  // namespace
}  // namespace wsedge::ws
