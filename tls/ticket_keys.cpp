#include "tls/ticket_keys.h"

#include <openssl/mem.h>
#include <openssl/rand.h>

#include <ctime>

namespace wsedge::tls {

void cleanse(TicketKeys::Key& key) {
  OPENSSL_cleanse(&key, sizeof key);
}

TicketKeys::TicketKeys(std::uint64_t rotationSeconds)
    : rotation_(rotationSeconds ? rotationSeconds : 3600) {}

TicketKeys::~TicketKeys() {
  for (Slot& s : slots_) erase(s);
}

void TicketKeys::erase(Slot& s) {
  cleanse(s.key);
  s.period = ~std::uint64_t{0};
}

std::uint64_t TicketKeys::periodNow() const {
  return static_cast<std::uint64_t>(std::time(nullptr)) / rotation_;
}

std::optional<TicketKeys::Key> TicketKeys::issuing(std::uint64_t period) {
  std::lock_guard lock(mutex_);
  for (Slot& s : slots_) {
    if (s.period == period) return s.key;
  }
  // A new period: it takes the older slot; anything older than the
  // previous period goes too.
  constexpr std::uint64_t kNone = ~std::uint64_t{0};
  for (Slot& s : slots_) {
    if (s.period != kNone && s.period + 1 < period) erase(s);
  }
  Slot& target = slots_[0].period == kNone             ? slots_[0]
                 : slots_[1].period == kNone           ? slots_[1]
                 : slots_[0].period < slots_[1].period ? slots_[0]
                                                       : slots_[1];
  erase(target);
  if (RAND_bytes(reinterpret_cast<std::uint8_t*>(&target.key), sizeof target.key) != 1) {
    return std::nullopt;
  }
  target.period = period;
  return target.key;
}

std::optional<TicketKeys::Key> TicketKeys::find(std::uint64_t period) {
  std::lock_guard lock(mutex_);
  const std::uint64_t now = periodNow();
  for (Slot& s : slots_) {
    if (s.period != ~std::uint64_t{0} && s.period + 1 < now) erase(s);  // two periods, then gone
  }
  for (const Slot& s : slots_) {
    if (s.period == period) return s.key;
  }
  return std::nullopt;
}

}  // namespace wsedge::tls
