#include "bench/payload.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace wsedge::bench {
namespace {

using Result = Payload::Checker::Result;

std::vector<std::byte> message(const Payload& p, std::size_t size, std::uint64_t seq) {
  std::vector<std::byte> m(size);
  p.write(m.data(), size, seq);
  return m;
}

Result check(const Payload& p, std::span<const std::byte> m, std::uint64_t seq, std::size_t size,
             std::size_t piece = 0) {
  Payload::Checker c;
  c.begin(p, seq, size);
  if (piece == 0) piece = m.size() + 1;
  for (std::size_t i = 0; i < m.size(); i += piece)
    c.feed(m.subspan(i, std::min(piece, m.size() - i)));
  return c.finish();
}

TEST(Payload, AnEchoChecksOutWhateverTheSplit) {
  for (bool text : {false, true}) {
    Payload p(70000, text, 1);
    for (std::size_t size :
         {Payload::minSize(text), std::size_t{64}, std::size_t{1024}, std::size_t{70000}}) {
      const auto m = message(p, size, 42);
      for (std::size_t piece : {0, 1, 7, 1000})
        EXPECT_EQ(check(p, m, 42, size, piece), Result::kOk);
    }
  }
}

TEST(Payload, TextMessagesArePrintableAscii) {
  Payload p(5000, true, 9);
  const auto m = message(p, 5000, 123456789);
  for (std::byte b : m) {
    const auto c = std::to_integer<int>(b);
    ASSERT_TRUE(c >= 0x21 && c <= 0x7E) << c;
  }
}

TEST(Payload, EverySingleCorruptedByteIsCaught) {
  for (bool text : {false, true}) {
    Payload p(300, text, 3);
    const auto good = message(p, 300, 77);
    for (std::size_t i = 0; i < good.size(); ++i) {
      auto bad = good;
      bad[i] ^= std::byte{0x01};
      EXPECT_NE(check(p, bad, 77, 300, 13), Result::kOk) << "byte " << i << (text ? " text" : "");
    }
  }
}

TEST(Payload, ReorderedTruncatedAndOverlongMessagesAreCaught) {
  Payload p(1000, false, 4);
  const auto m5 = message(p, 1000, 5);
  EXPECT_EQ(check(p, message(p, 1000, 6), 5, 1000), Result::kWrongSequence);
  std::vector<std::byte> shorter(m5.begin(), m5.end() - 1);
  EXPECT_EQ(check(p, shorter, 5, 1000), Result::kWrongSize);
  auto longer = m5;
  longer.push_back(std::byte{0});
  EXPECT_NE(check(p, longer, 5, 1000), Result::kOk);
  std::vector<std::byte> tiny(m5.begin(), m5.begin() + 5);
  EXPECT_EQ(check(p, tiny, 5, 1000), Result::kWrongSize);
}

TEST(Payload, DifferentMessagesDiffer) {
  Payload p(2000, false, 8);
  // The fill depends on the sequence number, so swapped messages of equal
  // size differ in more than their header.
  const auto a = message(p, 2000, 10), b = message(p, 2000, 11);
  std::size_t differing = 0;
  for (std::size_t i = 12; i < a.size(); ++i) differing += a[i] != b[i];
  EXPECT_GT(differing, 1000u);
}

}  // namespace
}  // namespace wsedge::bench
