#include "proxy/http/accept_key.h"

#include <openssl/base64.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdint>

namespace wsedge::http {
namespace {
constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
}

std::string computeAcceptKey(std::string_view key) {
  SHA_CTX ctx;
  SHA1_Init(&ctx);
  SHA1_Update(&ctx, key.data(), key.size());
  SHA1_Update(&ctx, kGuid.data(), kGuid.size());
  std::uint8_t digest[SHA_DIGEST_LENGTH];
  SHA1_Final(digest, &ctx);
  char out[29];  // 4 * ceil(20 / 3) + NUL
  const std::size_t n =
      EVP_EncodeBlock(reinterpret_cast<std::uint8_t*>(out), digest, sizeof digest);
  return std::string(out, n);
}

bool isValidClientKey(std::string_view key) {
  // 16 bytes encode to exactly 24 characters ending in "==".
  if (key.size() != 24) return false;
  std::uint8_t out[18];
  std::size_t len = 0;
  return EVP_DecodeBase64(out, &len, sizeof out, reinterpret_cast<const std::uint8_t*>(key.data()),
                          key.size()) == 1 &&
         len == 16;
}

std::string generateClientKey() {
  std::uint8_t raw[16];
  RAND_bytes(raw, sizeof raw);
  char out[25];
  const std::size_t n = EVP_EncodeBlock(reinterpret_cast<std::uint8_t*>(out), raw, sizeof raw);
  return std::string(out, n);
}

}  // namespace wsedge::http
