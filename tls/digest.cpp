#include "tls/digest.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdint>

namespace wsedge::tls {

std::string sha256Hex(std::string_view data, std::size_t bytes) {
  std::uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const std::uint8_t*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < std::min<std::size_t>(bytes, SHA256_DIGEST_LENGTH); ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace wsedge::tls
