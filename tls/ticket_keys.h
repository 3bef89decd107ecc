// Session ticket keys that rotate on a schedule with no shared mutable state:
// every key is derived (HKDF-SHA256) from one random master secret and the
// number of the rotation period, so every worker computes the same keys on
// its own, and a ticket issued by one worker resumes on another.
#pragma once

#include <cstdint>
#include <optional>

namespace wsedge::tls {

class TicketKeys {
 public:
  struct Key {
    std::uint8_t name[16];
    std::uint8_t aes[16];   // AES-128-CBC, as the ticket callback expects
    std::uint8_t hmac[32];  // HMAC-SHA256
  };

  /// A fresh random master secret; keys change every rotationSeconds.
  explicit TicketKeys(std::uint64_t rotationSeconds);

  std::uint64_t periodNow() const;
  std::uint64_t rotationSeconds() const { return rotation_; }
  /// Empty if the derivation failed (it cannot, short of a broken library).
  std::optional<Key> keyFor(std::uint64_t period) const;

 private:
  std::uint8_t master_[32];
  std::uint64_t rotation_;
};

}  // namespace wsedge::tls
