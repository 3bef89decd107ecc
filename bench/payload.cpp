#include "bench/payload.h"

#include <cstring>
#include <random>

namespace wsedge::bench {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void writeHex(std::byte* out, std::uint64_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = static_cast<std::byte>(kHex[v & 0xF]);
    v >>= 4;
  }
}

bool readHex(const std::byte* in, int digits, std::uint64_t* v) {
  std::uint64_t r = 0;
  for (int i = 0; i < digits; ++i) {
    const char c = static_cast<char>(in[i]);
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    r = (r << 4) | static_cast<std::uint64_t>(d);
  }
  *v = r;
  return true;
}

}  // namespace

Payload::Payload(std::size_t maxSize, bool text, std::uint64_t seed) : text_(text) {
  const std::size_t len = maxSize + 512;  // room for every offset
  pattern_.resize(len);
  std::mt19937_64 rng(seed);
  for (auto& b : pattern_) {
    const auto r = rng();
    b = text ? static_cast<std::byte>(0x21 + r % 94) : static_cast<std::byte>(r);
  }
  // prefix_[i] = sum over j < i of pattern[j] * (j + 1), mod 2^32: any
  // single changed byte changes the sum.
  prefix_.resize(len + 1);
  prefix_[0] = 0;
  for (std::size_t j = 0; j < len; ++j) {
    prefix_[j + 1] = prefix_[j] + std::to_integer<std::uint32_t>(pattern_[j]) *
                                      static_cast<std::uint32_t>(j + 1);
  }
}

std::uint32_t Payload::checksum(std::uint64_t seq, std::size_t size) const {
  const std::size_t off = offsetOf(seq);
  const std::size_t n = size - headerSize();
  return prefix_[off + n] - prefix_[off] + static_cast<std::uint32_t>(seq * 0x9E3779B1u);
}

void Payload::writeHeader(std::byte* out, std::size_t size, std::uint64_t seq) const {
  const std::uint32_t sum = checksum(seq, size);
  if (text_) {
    writeHex(out, seq, 16);
    writeHex(out + 16, sum, 8);
  } else {
    std::memcpy(out, &seq, 8);
    std::memcpy(out + 8, &sum, 4);
  }
}

void Payload::write(std::byte* out, std::size_t size, std::uint64_t seq) const {
  writeHeader(out, size, seq);
  std::memcpy(out + headerSize(), fill(seq), size - headerSize());
}

bool Payload::decodeHeader(const std::byte* h, std::uint64_t* seq, std::uint32_t* sum) const {
  if (!text_) {
    std::memcpy(seq, h, 8);
    std::memcpy(sum, h + 8, 4);
    return true;
  }
  std::uint64_t s;
  if (!readHex(h, 16, seq) || !readHex(h + 16, 8, &s)) return false;
  *sum = static_cast<std::uint32_t>(s);
  return true;
}

void Payload::Checker::begin(const Payload& p, std::uint64_t expectedSeq,
                             std::size_t expectedSize) {
  p_ = &p;
  expectedSeq_ = expectedSeq;
  expectedSize_ = expectedSize;
  got_ = 0;
  corrupt_ = false;
  seqFound_ = 0;
}

void Payload::Checker::feed(std::span<const std::byte> data) {
  const std::size_t hs = p_->headerSize();
  std::size_t i = 0;
  // Header bytes are gathered (they may be split across frames).
  while (got_ < hs && i < data.size()) header_[got_++] = data[i++];
  if (i == data.size()) return;
  // Fill bytes are compared in place with the pattern of the expected message.
  const std::size_t fillPos = got_ - hs;
  std::size_t n = data.size() - i;
  if (got_ + n > expectedSize_) {
    corrupt_ = true;  // longer than sent: compare only what fits
    n = expectedSize_ > got_ ? expectedSize_ - got_ : 0;
  }
  if (n && std::memcmp(data.data() + i, p_->fill(expectedSeq_) + fillPos, n) != 0) corrupt_ = true;
  got_ += data.size() - i;
}

Payload::Checker::Result Payload::Checker::finish() {
  if (got_ < p_->headerSize()) return Result::kWrongSize;
  std::uint32_t sum = 0;
  if (!p_->decodeHeader(header_, &seqFound_, &sum)) return Result::kCorrupt;
  if (seqFound_ != expectedSeq_) return Result::kWrongSequence;
  if (got_ != expectedSize_) return Result::kWrongSize;
  if (corrupt_ || sum != p_->checksum(expectedSeq_, expectedSize_)) return Result::kCorrupt;
  return Result::kOk;
}

}  // namespace wsedge::bench
