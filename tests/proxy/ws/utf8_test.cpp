#include "proxy/ws/utf8.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/support/simd_levels.h"

namespace wsedge::ws {
namespace {

using testing::SimdLevelTest;

// An independent reference: decode each code point and check its value,
// rather than the byte ranges the validators use.
bool referenceValid(const std::uint8_t* s, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    const std::uint32_t c = s[i];
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    const std::uint32_t minForLen[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < minForLen[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool valid(const std::string& s) {
  return isValidUtf8(std::string_view(s));
}

class Utf8Level : public SimdLevelTest {};

// Places the sequence at several positions in an ASCII buffer so that it
// straddles 16-, 32- and 64-byte boundaries, and at the very end.
void checkAtPositions(const std::uint8_t* seq, std::size_t len) {
  static const std::size_t kPositions[] = {0, 14, 30, 62};
  std::uint8_t buf[80];
  for (std::size_t pos : kPositions) {
    std::memset(buf, 'a', sizeof buf);
    std::memcpy(buf + pos, seq, len);
    const bool expected = referenceValid(buf, sizeof buf);
    ASSERT_EQ(isValidUtf8(std::span(reinterpret_cast<const std::byte*>(buf), sizeof buf)), expected)
        << "pos " << pos << " seq " << std::hex << int(seq[0]) << " " << int(len > 1 ? seq[1] : 0)
        << " " << int(len > 2 ? seq[2] : 0) << " " << int(len > 3 ? seq[3] : 0);
  }
  // At the end, where a truncated sequence must be caught.
  std::memset(buf, 'a', sizeof buf);
  std::memcpy(buf + sizeof buf - len, seq, len);
  ASSERT_EQ(isValidUtf8(std::span(reinterpret_cast<const std::byte*>(buf), sizeof buf)),
            referenceValid(buf, sizeof buf));
}

TEST_P(Utf8Level, AllOneAndTwoByteSequences) {
  for (unsigned a = 0; a < 256; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      const std::uint8_t seq[2] = {static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b)};
      checkAtPositions(seq, 1);
      checkAtPositions(seq, 2);
    }
  }
}

TEST_P(Utf8Level, AllThreeByteSequences) {
  // The whole 2^24 space, straddling the 32-byte block boundary.
  std::uint8_t buf[40];
  std::memset(buf, 'a', sizeof buf);
  for (std::uint32_t v = 0; v < (1u << 24); ++v) {
    buf[30] = static_cast<std::uint8_t>(v >> 16);
    buf[31] = static_cast<std::uint8_t>(v >> 8);
    buf[32] = static_cast<std::uint8_t>(v);
    const bool got = isValidUtf8(std::span(reinterpret_cast<const std::byte*>(buf), sizeof buf));
    if (got != referenceValid(buf, sizeof buf)) {
      FAIL() << std::hex << "sequence " << v;
    }
  }
}

TEST_P(Utf8Level, FourByteSequences) {
  // Every lead from F0 and every second byte, with the third and fourth
  // drawn from all continuations and the bytes around their edges.
  std::vector<std::uint8_t> tails;
  for (unsigned c = 0x80; c <= 0xBF; ++c) tails.push_back(static_cast<std::uint8_t>(c));
  for (unsigned c : {0x00u, 0x41u, 0x7Fu, 0xC0u, 0xE0u, 0xF0u, 0xFFu}) {
    tails.push_back(static_cast<std::uint8_t>(c));
  }
  const std::uint8_t fourth[] = {0x80, 0x8F, 0x90, 0xBF, 0x00, 0x7F, 0xC0};
  for (unsigned lead = 0xF0; lead <= 0xFF; ++lead) {
    for (unsigned second = 0; second < 256; ++second) {
      for (std::uint8_t third : tails) {
        for (std::uint8_t last : fourth) {
          const std::uint8_t seq[4] = {static_cast<std::uint8_t>(lead),
                                       static_cast<std::uint8_t>(second), third, last};
          std::uint8_t buf[40];
          std::memset(buf, 'a', sizeof buf);
          std::memcpy(buf + 30, seq, 4);
          ASSERT_EQ(isValidUtf8(std::span(reinterpret_cast<const std::byte*>(buf), sizeof buf)),
                    referenceValid(buf, sizeof buf))
              << std::hex << lead << " " << second << " " << int(third) << " " << int(last);
        }
      }
    }
  }
}

// Random multilingual text, sometimes corrupted, at random lengths and alignments.
std::string randomText(std::mt19937& rng, std::size_t approxLen) {
  static const char* kPieces[] = {
      "a",           "hello ", "é", "ß", "Привет",           "мир",
      "中文",        "日本語", "😀", "🚀", "\xf4\x8f\xbf\xbf", "\xef\xbf\xbf",
      "\xe0\xa0\x80"};
  std::string s;
  while (s.size() < approxLen) s += kPieces[rng() % (sizeof kPieces / sizeof *kPieces)];
  return s;
}

TEST_P(Utf8Level, MatchesReferenceOnRandomTextLengthsAndAlignments) {
  std::mt19937 rng(1234);
  std::vector<std::uint8_t> buf(4096 + 64);
  for (int round = 0; round < 3000; ++round) {
    std::string text = randomText(rng, rng() % 4097);
    text.resize(std::min<std::size_t>(text.size(), 4096));
    if (round % 2 && !text.empty()) {
      text[rng() % text.size()] = static_cast<char>(rng());  // corrupt one byte
    }
    const std::size_t align = rng() % 64;
    std::memcpy(buf.data() + align, text.data(), text.size());
    const auto* p = buf.data() + align;
    ASSERT_EQ(isValidUtf8(std::span(reinterpret_cast<const std::byte*>(p), text.size())),
              referenceValid(p, text.size()))
        << "round " << round;
  }
}

TEST_P(Utf8Level, KnownInvalidSequences) {
  EXPECT_TRUE(valid(""));
  EXPECT_TRUE(valid("κόσμε"));
  EXPECT_TRUE(valid("\xf4\x8f\xbf\xbf"));   // U+10FFFF
  EXPECT_TRUE(valid("\xed\x9f\xbf"));       // U+D7FF, just below the surrogates
  EXPECT_FALSE(valid("\xc0\x80"));          // overlong NUL
  EXPECT_FALSE(valid("\xc1\xbf"));          // overlong
  EXPECT_FALSE(valid("\xe0\x80\x80"));      // overlong
  EXPECT_FALSE(valid("\xe0\x9f\xbf"));      // overlong
  EXPECT_FALSE(valid("\xf0\x8f\xbf\xbf"));  // overlong
  EXPECT_FALSE(valid("\xed\xa0\x80"));      // U+D800 surrogate
  EXPECT_FALSE(valid("\xed\xbf\xbf"));      // U+DFFF surrogate
  EXPECT_FALSE(valid("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(valid("\xf5\x80\x80\x80"));
  EXPECT_FALSE(valid("\xff"));
  EXPECT_FALSE(valid("\x80"));      // lone continuation
  EXPECT_FALSE(valid("\xe2\x82"));  // truncated at the end
  EXPECT_FALSE(valid(std::string(100, 'a') + "\xf0\x9f\x98"));
}

INSTANTIATE_TEST_SUITE_P(AllLevels, Utf8Level, ::testing::ValuesIn(testing::allSimdLevels()),
                         testing::simdLevelParamName);

std::span<const std::byte> bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(Utf8Validator, ValidTextSplitAtEveryByte) {
  const std::string text = "Hello κόσμε 中文 😀 \xf4\x8f\xbf\xbf end";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    for (std::size_t cut2 = cut; cut2 <= text.size(); ++cut2) {
      Utf8Validator v;
      ASSERT_TRUE(v.feed(bytes(std::string_view(text).substr(0, cut))));
      ASSERT_TRUE(v.feed(bytes(std::string_view(text).substr(cut, cut2 - cut))));
      ASSERT_TRUE(v.feed(bytes(std::string_view(text).substr(cut2))));
      ASSERT_TRUE(v.finish()) << cut << " " << cut2;
    }
  }
}

TEST(Utf8Validator, OneByteAtATime) {
  const std::string text = randomText(*std::make_unique<std::mt19937>(5), 2000);
  Utf8Validator v;
  for (char c : text) ASSERT_TRUE(v.feed(bytes(std::string_view(&c, 1))));
  EXPECT_TRUE(v.finish());
}

TEST(Utf8Validator, InvalidTextFailsWhicheverWayItIsSplit) {
  const std::string bad[] = {"ab\xed\xa0\x80yz", "κό\xf4\x90\x80\x80σμε",
                             "x\xc0\x80",        "abc\x80",
                             "\xe0\x80\x80",     std::string(70, 'a') + "\xff" + "b"};
  for (const std::string& text : bad) {
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
      Utf8Validator v;
      const bool first = v.feed(bytes(std::string_view(text).substr(0, cut)));
      const bool second = first && v.feed(bytes(std::string_view(text).substr(cut)));
      EXPECT_FALSE(second && v.finish()) << "cut " << cut;
    }
  }
}

TEST(Utf8Validator, FailsFastBeforeTheMessageEnds) {
  // Autobahn 6.4.1: the piece with the impossible bytes fails at once.
  Utf8Validator v;
  EXPECT_TRUE(v.feed(bytes("κόσμε")));
  EXPECT_FALSE(v.feed(bytes("\xf4\x90\x80\x80")));
  // 6.4.2: the sequence is split; F4 alone could still be valid, F4 90 not.
  Utf8Validator w;
  EXPECT_TRUE(w.feed(bytes("κόσμε\xf4")));
  EXPECT_FALSE(w.feed(bytes("\x90")));
  // A truncated prefix that is already impossible fails in its own piece.
  Utf8Validator x;
  EXPECT_FALSE(x.feed(bytes("abc\xed\xa0")));
  Utf8Validator y;
  EXPECT_FALSE(y.feed(bytes("abc\xc0")));
  // Once failed, it stays failed.
  EXPECT_FALSE(y.feed(bytes("abc")));
}

TEST(Utf8Validator, TruncatedAtMessageEndFails) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed(bytes("abc\xf0\x9f\x98")));
  EXPECT_FALSE(v.finish());
  // finish() resets for the next message.
  EXPECT_TRUE(v.feed(bytes("ok")));
  EXPECT_TRUE(v.finish());
}

}  // namespace
}  // namespace wsedge::ws
