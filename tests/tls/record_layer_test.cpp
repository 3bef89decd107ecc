// wsedge's TLS 1.3 record layer, one end against the other (interop with
// real clients is in tests/integration/test_tls.py).
#include "tls/record_layer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wsedge::tls {
namespace {

using Bytes = std::vector<std::byte>;

struct Ends {
  std::unique_ptr<RecordLayer> client, server;
};

// The two directions' secrets, as the two ends see them.
Ends ends(std::uint16_t suite, std::size_t secretLength) {
  std::vector<std::uint8_t> c(secretLength, 0x11), s(secretLength, 0x22);
  return {RecordLayer::create(suite, s, 0, c, 0), RecordLayer::create(suite, c, 0, s, 0)};
}

Bytes sealed(RecordLayer& from, std::string_view text,
             RecordLayer::Type type = RecordLayer::Type::kApplicationData) {
  Bytes out(text.size() + RecordLayer::kOverhead);
  EXPECT_TRUE(from.canSeal(1));
  from.seal(type, std::as_bytes(std::span(text)), out.data());
  return out;
}

std::string text(std::span<std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

struct Suite {
  std::uint16_t id;
  std::size_t secret;
};

class RecordLayerSuite : public ::testing::TestWithParam<Suite> {};

TEST_P(RecordLayerSuite, ARecordSealedByOneEndOpensAtTheOtherInPlace) {
  Ends e = ends(GetParam().id, GetParam().secret);
  ASSERT_TRUE(e.client && e.server);
  Bytes r = sealed(*e.client, "hello, edge");
  ASSERT_EQ(RecordLayer::recordLength(r), r.size());
  EXPECT_EQ(r[0], std::byte{23}) << "application_data outside";
  EXPECT_EQ(r[1], std::byte{3});
  EXPECT_EQ(r[2], std::byte{3});
  EXPECT_EQ(r.size(), 11 + 5 + 1 + 16);
  RecordLayer::Opened o = e.server->open(r);
  ASSERT_EQ(o.alert, RecordLayer::kCloseNotify);
  EXPECT_EQ(o.type, RecordLayer::Type::kApplicationData);
  EXPECT_EQ(text(o.plaintext), "hello, edge");
  EXPECT_EQ(o.plaintext.data(), r.data() + RecordLayer::kHeader) << "opened where it lies";
  // The other way, and a record of another type.
  Bytes alert = sealed(*e.server, std::string_view("\x01\x00", 2), RecordLayer::Type::kAlert);
  o = e.client->open(alert);
  ASSERT_EQ(o.alert, RecordLayer::kCloseNotify);
  EXPECT_EQ(o.type, RecordLayer::Type::kAlert);
  EXPECT_EQ(o.plaintext.size(), 2u);
}

TEST_P(RecordLayerSuite, AnyFlippedByteFailsAndSoDoesAReplay) {
  Ends e = ends(GetParam().id, GetParam().secret);
  const Bytes good = sealed(*e.client, "payload");
  for (std::size_t i = 1; i < good.size(); ++i) {
    if (i == 3 || i == 4) continue;  // the length: another record altogether
    Ends fresh = ends(GetParam().id, GetParam().secret);
    Bytes bad = sealed(*fresh.client, "payload");
    bad[i] ^= std::byte{0x40};
    EXPECT_NE(fresh.server->open(bad).alert, RecordLayer::kCloseNotify) << "byte " << i;
  }
  Bytes r = good;
  ASSERT_EQ(e.server->open(r).alert, RecordLayer::kCloseNotify);
  r = good;
  EXPECT_EQ(e.server->open(r).alert, RecordLayer::kBadRecordMac)
      << "the same record again is out of sequence";
}

TEST_P(RecordLayerSuite, AKeyUpdateOnBothEndsKeepsRecordsFlowing) {
  Ends e = ends(GetParam().id, GetParam().secret);
  Bytes r = sealed(*e.client, "one");
  ASSERT_EQ(e.server->open(r).alert, RecordLayer::kCloseNotify);
  ASSERT_TRUE(e.client->updateWriteKey());
  Bytes after = sealed(*e.client, "two");
  EXPECT_EQ(e.server->open(after).alert, RecordLayer::kBadRecordMac)
      << "the old key cannot open it";
  Ends f = ends(GetParam().id, GetParam().secret);
  Bytes first = sealed(*f.client, "one");
  ASSERT_EQ(f.server->open(first).alert, RecordLayer::kCloseNotify);
  ASSERT_TRUE(f.client->updateWriteKey());
  ASSERT_TRUE(f.server->updateReadKey());
  Bytes next = sealed(*f.client, "two");
  RecordLayer::Opened o = f.server->open(next);
  ASSERT_EQ(o.alert, RecordLayer::kCloseNotify);
  EXPECT_EQ(text(o.plaintext), "two");
}

INSTANTIATE_TEST_SUITE_P(Tls13, RecordLayerSuite,
                         ::testing::Values(Suite{0x1301, 32}, Suite{0x1302, 48}, Suite{0x1303, 32}),
                         [](const auto& suite) {
                           return std::string(suite.param.id == 0x1301   ? "aes128gcm"
                                              : suite.param.id == 0x1302 ? "aes256gcm"
                                                                         : "chacha20poly1305");
                         });

TEST(RecordLayer, PaddingIsStrippedAndOverlongOrTypelessRecordsAreRefused) {
  Ends e = ends(0x1301, 32);
  // "hi", the type (application_data), then zero padding: sealed with a
  // type byte of 0, which is one more byte of padding.
  const std::string padded("hi\x17\0\0", 5);
  Bytes r(padded.size() + RecordLayer::kOverhead);
  e.client->seal(static_cast<RecordLayer::Type>(0), std::as_bytes(std::span(padded)), r.data());
  RecordLayer::Opened o = e.server->open(r);
  ASSERT_EQ(o.alert, RecordLayer::kCloseNotify);
  EXPECT_EQ(o.type, RecordLayer::Type::kApplicationData) << "the last non-zero byte is the type";
  EXPECT_EQ(text(o.plaintext), "hi");

  // All padding, no type: refused (sealed by hand as if all zero).
  Bytes typeless(RecordLayer::kHeader + RecordLayer::kTag + 1, std::byte{0});
  typeless[0] = std::byte{23};
  typeless[1] = typeless[2] = std::byte{3};
  typeless[4] = std::byte{RecordLayer::kTag + 1};
  EXPECT_EQ(e.server->open(typeless).alert, RecordLayer::kBadRecordMac);
  Bytes plain = sealed(*e.client, "x");
  plain[0] = std::byte{22};  // a handshake record in the clear after the handshake
  EXPECT_EQ(e.server->open(plain).alert, RecordLayer::kUnexpectedMessage);
  Bytes huge(RecordLayer::kMaxRecord + 1);
  huge[0] = std::byte{23};
  EXPECT_EQ(e.server->open(huge).alert, RecordLayer::kRecordOverflow);
}

TEST(RecordLayer, UnknownSuitesAndWrongSecretLengthsGetNoRecordLayer) {
  std::vector<std::uint8_t> s32(32), s48(48);
  EXPECT_FALSE(RecordLayer::create(0x1304, s32, 0, s32, 0)) << "CCM is not offered";
  EXPECT_FALSE(RecordLayer::create(0xc02f, s32, 0, s32, 0)) << "TLS 1.2 suites are BoringSSL's";
  EXPECT_FALSE(RecordLayer::create(0x1302, s32, 0, s32, 0)) << "SHA-384 secrets are 48 bytes";
  auto layer = RecordLayer::create(0x1302, s48, 7, s48, 9);
  ASSERT_TRUE(layer);
  EXPECT_TRUE(layer->canSeal(1000));
  EXPECT_FALSE(RecordLayer::create(0x1301, s32, 0, s32, ~std::uint64_t{0} - 1)->canSeal(1))
      << "sequence numbers never wrap";
}

}  // namespace
}  // namespace wsedge::tls
