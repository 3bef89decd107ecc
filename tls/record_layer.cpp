#include "tls/record_layer.h"

#include <openssl/digest.h>
#include <openssl/hkdf.h>
#include <openssl/mem.h>

#include <cstring>
#include <string_view>

namespace wsedge::tls {
namespace {

constexpr std::uint8_t kLegacyVersion[2] = {0x03, 0x03};

// HKDF-Expand-Label(secret, label, "", length) (RFC 8446 §7.1).
bool expandLabel(const EVP_MD* md, std::span<const std::uint8_t> secret, std::string_view label,
                 std::uint8_t* out, std::size_t length) {
  std::uint8_t info[2 + 1 + 6 + 16 + 1];
  std::size_t n = 0;
  info[n++] = static_cast<std::uint8_t>(length >> 8);
  info[n++] = static_cast<std::uint8_t>(length);
  info[n++] = static_cast<std::uint8_t>(6 + label.size());
  std::memcpy(info + n, "tls13 ", 6);
  n += 6;
  std::memcpy(info + n, label.data(), label.size());
  n += label.size();
  info[n++] = 0;  // no context
  return HKDF_expand(out, length, md, secret.data(), secret.size(), info, n) == 1;
}

}  // namespace

RecordLayer::Direction::~Direction() {
  OPENSSL_cleanse(secret, sizeof secret);
  OPENSSL_cleanse(iv, sizeof iv);
}

bool RecordLayer::Direction::init(const EVP_AEAD* cipher, const EVP_MD* md,
                                  std::span<const std::uint8_t> s, std::uint64_t seq) {
  if (s.size() != EVP_MD_size(md) || s.size() > kMaxSecret) return false;
  digest = md;
  std::memcpy(secret, s.data(), s.size());
  secretLength = static_cast<std::uint8_t>(s.size());
  sequence = seq;
  std::uint8_t key[32];
  const std::size_t keyLength = EVP_AEAD_key_length(cipher);
  const bool ok = keyLength <= sizeof key && expandLabel(md, s, "key", key, keyLength) &&
                  expandLabel(md, s, "iv", iv, sizeof iv) &&
                  EVP_AEAD_CTX_init(aead.get(), cipher, key, keyLength, kTag, nullptr) == 1;
  OPENSSL_cleanse(key, sizeof key);
  live = ok;
  return ok;
}

bool RecordLayer::Direction::update() {
  std::uint8_t next[kMaxSecret];
  const std::span<const std::uint8_t> current(secret, secretLength);
  if (!expandLabel(digest, current, "traffic upd", next, secretLength)) return false;
  const EVP_AEAD* cipher = EVP_AEAD_CTX_aead(aead.get());
  live = false;
  aead.Reset();
  const bool ok = init(cipher, digest, {next, secretLength}, 0);
  OPENSSL_cleanse(next, sizeof next);
  return ok;
}

bool RecordLayer::Direction::nextNonce(std::uint8_t nonce[12]) {
  if (!live || sequence == ~std::uint64_t{0}) return false;  // RFC 8446 §5.3: never wrap
  std::memcpy(nonce, iv, 12);
  for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<std::uint8_t>(sequence >> (8 * i));
  ++sequence;
  return true;
}

std::unique_ptr<RecordLayer> RecordLayer::create(std::uint16_t suite,
                                                 std::span<const std::uint8_t> readSecret,
                                                 std::uint64_t readSequence,
                                                 std::span<const std::uint8_t> writeSecret,
                                                 std::uint64_t writeSequence) {
  const EVP_AEAD* cipher = nullptr;
  const EVP_MD* md = nullptr;
  switch (suite) {
    case 0x1301:  // TLS_AES_128_GCM_SHA256
      cipher = EVP_aead_aes_128_gcm();
      md = EVP_sha256();
      break;
    case 0x1302:  // TLS_AES_256_GCM_SHA384
      cipher = EVP_aead_aes_256_gcm();
      md = EVP_sha384();
      break;
    case 0x1303:  // TLS_CHACHA20_POLY1305_SHA256
      cipher = EVP_aead_chacha20_poly1305();
      md = EVP_sha256();
      break;
    default:
      return nullptr;
  }
  std::unique_ptr<RecordLayer> layer(new RecordLayer);
  if (!layer->read_.init(cipher, md, readSecret, readSequence) ||
      !layer->write_.init(cipher, md, writeSecret, writeSequence)) {
    return nullptr;
  }
  return layer;
}

std::size_t RecordLayer::recordLength(std::span<const std::byte> in) {
  return kHeader + (std::to_integer<std::size_t>(in[3]) << 8 | std::to_integer<std::size_t>(in[4]));
}

RecordLayer::Opened RecordLayer::open(std::span<std::byte> record) {
  Opened r;
  auto* p = reinterpret_cast<std::uint8_t*>(record.data());
  // After the handshake every record is application_data outside (§5.2).
  if (p[0] != static_cast<std::uint8_t>(Type::kApplicationData)) {
    r.alert = kUnexpectedMessage;
    return r;
  }
  if (record.size() > kMaxRecord) {
    r.alert = kRecordOverflow;
    return r;
  }
  std::uint8_t nonce[12];
  std::size_t length = 0;
  if (record.size() < kHeader + 1 + kTag || !read_.nextNonce(nonce) ||
      !EVP_AEAD_CTX_open(read_.aead.get(), p + kHeader, &length, record.size() - kHeader, nonce,
                         sizeof nonce, p + kHeader, record.size() - kHeader, p, kHeader)) {
    r.alert = kBadRecordMac;
    return r;
  }
  // The content type is the last byte that is not padding (§5.4).
  while (length > 0 && p[kHeader + length - 1] == 0) --length;
  if (length == 0 || length - 1 > kMaxPlaintext) {
    r.alert = length == 0 ? kUnexpectedMessage : kRecordOverflow;
    return r;
  }
  r.type = static_cast<Type>(p[kHeader + length - 1]);
  r.plaintext = record.subspan(kHeader, length - 1);
  return r;
}

void RecordLayer::seal(Type type, std::span<const std::byte> plaintext, std::byte* out) {
  auto* p = reinterpret_cast<std::uint8_t*>(out);
  const std::size_t body = plaintext.size() + 1 + kTag;
  p[0] = static_cast<std::uint8_t>(Type::kApplicationData);
  p[1] = kLegacyVersion[0];
  p[2] = kLegacyVersion[1];
  p[3] = static_cast<std::uint8_t>(body >> 8);
  p[4] = static_cast<std::uint8_t>(body);
  std::uint8_t nonce[12];
  const auto inner = static_cast<std::uint8_t>(type);
  std::size_t tagLength = 0;
  // canSeal() held, so neither this nor the seal can fail; if they did, the
  // record would be zeros (seal_scatter clears its output), never stale bytes.
  if (!write_.nextNonce(nonce)) {
    std::memset(p + kHeader, 0, body);
    return;
  }
  EVP_AEAD_CTX_seal_scatter(write_.aead.get(), p + kHeader, p + kHeader + plaintext.size(),
                            &tagLength, 1 + kTag, nonce, sizeof nonce,
                            reinterpret_cast<const std::uint8_t*>(plaintext.data()),
                            plaintext.size(), &inner, 1, p, kHeader);
}

}  // namespace wsedge::tls
