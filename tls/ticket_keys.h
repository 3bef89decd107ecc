// Session ticket keys that rotate on a schedule and are forward-secret: each
// rotation period gets fresh random key material, made by whichever worker
// first needs it and shared by all of them (one object per listener, held by
// the snapshot), so a ticket issued by one worker resumes on another. A key
// is kept for two periods (tickets issued late in one period still resume
// early in the next) and then erased, so a later memory disclosure cannot
// open older tickets.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

namespace wsedge::tls {

class TicketKeys {
 public:
  struct Key {
    std::uint8_t name[16];
    std::uint8_t aes[16];   // AES-128-CBC, as the ticket callback expects
    std::uint8_t hmac[32];  // HMAC-SHA256
  };

  /// Keys change every rotationSeconds.
  explicit TicketKeys(std::uint64_t rotationSeconds);
  ~TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  std::uint64_t periodNow() const;
  std::uint64_t rotationSeconds() const { return rotation_; }

  /// The key to issue tickets with in this period, made on first use; the
  /// keys of periods before the previous one are erased. Empty only if the
  /// random generator fails.
  std::optional<Key> issuing(std::uint64_t period);
  /// The key of this period if it is still kept (this one or the previous).
  std::optional<Key> find(std::uint64_t period);

 private:
  struct Slot {
    std::uint64_t period = ~std::uint64_t{0};  // none
    Key key{};
  };
  void erase(Slot& s);

  std::uint64_t rotation_;
  std::mutex mutex_;  // taken once per period per worker, never per handshake
  Slot slots_[2];     // the newest two periods
};

/// Wipes a key (OPENSSL_cleanse): for copies that leave a cache.
void cleanse(TicketKeys::Key& key);

}  // namespace wsedge::tls
