// UTF-8 validation (RFC 3629) for text messages and close reasons.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace wsedge::ws {

/// True if data is complete, valid UTF-8 (no truncated code point at the end).
bool isValidUtf8(std::span<const std::byte> data);
bool isValidUtf8(std::string_view text);

/// Streaming validator for one message whose bytes arrive in pieces: a code
/// point may span frames and buffers. It fails fast: feed() returns false for
/// the first piece containing a byte that no continuation could make valid,
/// not at the end of the message (Autobahn 6.4.x).
class Utf8Validator {
 public:
  /// Validates the next piece. Once it returns false it keeps returning false
  /// until reset().
  bool feed(std::span<const std::byte> piece);
  /// End of message: true if no code point was left incomplete. Resets.
  bool finish();
  void reset() { *this = Utf8Validator{}; }

 private:
  bool pushPending(std::uint8_t byte);

  std::array<std::uint8_t, 4> pending_{};
  std::uint8_t pendingLen_ = 0;
  std::uint8_t needed_ = 0;
  bool failed_ = false;
};

}  // namespace wsedge::ws
