#include "tls/ticket_keys.h"

#include <openssl/digest.h>
#include <openssl/hkdf.h>
#include <openssl/rand.h>

#include <ctime>

namespace wsedge::tls {

TicketKeys::TicketKeys(std::uint64_t rotationSeconds)
    : rotation_(rotationSeconds ? rotationSeconds : 3600) {
  RAND_bytes(master_, sizeof master_);
}

std::uint64_t TicketKeys::periodNow() const {
  return static_cast<std::uint64_t>(std::time(nullptr)) / rotation_;
}

std::optional<TicketKeys::Key> TicketKeys::keyFor(std::uint64_t period) const {
  std::uint8_t salt[8];
  for (int i = 0; i < 8; ++i) salt[i] = static_cast<std::uint8_t>(period >> (8 * i));
  static const char kInfo[] = "wsedge session ticket key";
  Key k;
  std::uint8_t out[sizeof k.name + sizeof k.aes + sizeof k.hmac];
  if (!HKDF(out, sizeof out, EVP_sha256(), master_, sizeof master_, salt, sizeof salt,
            reinterpret_cast<const std::uint8_t*>(kInfo), sizeof kInfo - 1)) {
    return std::nullopt;
  }
  std::copy(out, out + 16, k.name);
  std::copy(out + 16, out + 32, k.aes);
  std::copy(out + 32, out + 64, k.hmac);
  return k;
}

}  // namespace wsedge::tls
