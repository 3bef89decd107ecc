// What wsedge-bench puts in every message, and how it checks the echo.
//
// A message is a header, a sequence number and a checksum, followed by fill
// taken from a per-thread pattern at an offset that depends on the sequence
// number. The receiver regenerates nothing: it compares the fill with the
// pattern (memcmp speed), streaming, so a message never has to be buffered,
// and any corrupted, swapped, lost or repeated message is caught.
//
//   binary: seq (8 bytes, little-endian) | checksum (4 bytes) | fill
//   text:   seq (16 hex digits) | checksum (8 hex digits) | printable ASCII fill
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace wsedge::bench {

class Payload {
 public:
  Payload(std::size_t maxSize, bool text, std::uint64_t seed);

  std::size_t headerSize() const { return text_ ? 24 : 12; }
  static std::size_t minSize(bool text) { return text ? 24 : 12; }
  bool text() const { return text_; }

  /// Writes message `seq` of `size` bytes (size >= headerSize()).
  void write(std::byte* out, std::size_t size, std::uint64_t seq) const;
  /// Writes only the header of message `seq`; its fill is fill(seq).
  void writeHeader(std::byte* out, std::size_t size, std::uint64_t seq) const;
  /// The fill for message `seq` starts here in the pattern.
  const std::byte* fill(std::uint64_t seq) const { return pattern_.data() + offsetOf(seq); }
  std::uint32_t checksum(std::uint64_t seq, std::size_t size) const;

  /// Incremental check of one received message.
  class Checker {
   public:
    enum class Result : std::uint8_t { kOk, kCorrupt, kWrongSequence, kWrongSize };
    void begin(const Payload& p, std::uint64_t expectedSeq, std::size_t expectedSize);
    /// Feeds the next bytes of the message.
    void feed(std::span<const std::byte> data);
    /// At the end of the message: the verdict, and the sequence number found.
    Result finish();
    std::uint64_t seqFound() const { return seqFound_; }

   private:
    const Payload* p_ = nullptr;
    std::uint64_t expectedSeq_ = 0;
    std::size_t expectedSize_ = 0;
    std::size_t got_ = 0;
    bool corrupt_ = false;
    std::uint64_t seqFound_ = 0;
    std::byte header_[24];
  };

 private:
  std::size_t offsetOf(std::uint64_t seq) const {
    return static_cast<std::size_t>((seq * 131) % 509);
  }
  bool decodeHeader(const std::byte* h, std::uint64_t* seq, std::uint32_t* sum) const;

  bool text_;
  std::vector<std::byte> pattern_;
  std::vector<std::uint32_t> prefix_;  // weighted prefix sums of the pattern: O(1) checksums
};

}  // namespace wsedge::bench
