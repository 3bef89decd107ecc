// TLS 1.3 record protection for application traffic (RFC 8446 §5.2, §7.1
// to §7.3), run by wsedge once BoringSSL has finished a handshake: records
// are opened in place where they arrive and sealed straight into the
// socket's send queue, so the only pass over plaintext besides the relay's
// is the cipher's. BoringSSL still does everything before (the handshake,
// the tickets); this does what comes after: application data, alerts and
// KeyUpdate.
//
// (bssl::OpenRecord and SealRecord would do the same, but this BoringSSL
// allows them for TLS 1.2 only.)
#pragma once

#include <openssl/aead.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace wsedge::tls {

class RecordLayer {
 public:
  static constexpr std::size_t kHeader = 5;
  static constexpr std::size_t kTag = 16;  // all three TLS 1.3 AEADs
  /// What a sealed record adds to its plaintext: header, content type, tag.
  static constexpr std::size_t kOverhead = kHeader + 1 + kTag;
  static constexpr std::size_t kMaxPlaintext = 16384;
  /// The largest record a peer may send (RFC 8446 §5.2).
  static constexpr std::size_t kMaxRecord = kHeader + kMaxPlaintext + 256;
  static constexpr std::size_t kMaxSecret = 48;

  enum class Type : std::uint8_t { kAlert = 21, kHandshake = 22, kApplicationData = 23 };
  enum Alert : std::uint8_t {
    kCloseNotify = 0,
    kUnexpectedMessage = 10,
    kBadRecordMac = 20,
    kRecordOverflow = 22,
    kDecodeError = 50,
    kInternalError = 80,
    kUserCanceled = 90,
  };

  /// Both directions' traffic secrets and next sequence numbers, for a
  /// TLS 1.3 cipher suite (its IANA number). Null for a suite this does not
  /// know.
  static std::unique_ptr<RecordLayer> create(std::uint16_t suite,
                                             std::span<const std::uint8_t> readSecret,
                                             std::uint64_t readSequence,
                                             std::span<const std::uint8_t> writeSecret,
                                             std::uint64_t writeSequence);

  /// The length, header included, of the record at the start of `in` (which
  /// holds at least kHeader bytes), as its header says.
  static std::size_t recordLength(std::span<const std::byte> in);

  struct Opened {
    Alert alert = kCloseNotify;  // kCloseNotify: opened; else what to tell the peer
    Type type = Type::kApplicationData;
    std::span<std::byte> plaintext;  // inside the record
  };
  /// Decrypts one whole record (in.size() == recordLength(in)) in place.
  Opened open(std::span<std::byte> record);

  /// Whether `records` more records can be sealed: sequence numbers never
  /// wrap, and a failed key derivation ends writing.
  bool canSeal(std::uint64_t records) const {
    return write_.live && write_.sequence < ~std::uint64_t{0} - records;
  }
  /// Seals plaintext (at most kMaxPlaintext bytes) as one record of `type`
  /// into out, which has room for plaintext.size() + kOverhead bytes. Only
  /// when canSeal(1).
  void seal(Type type, std::span<const std::byte> plaintext, std::byte* out);

  /// KeyUpdate (RFC 8446 §4.6.3): the next traffic secret, one direction.
  /// False (and that direction is dead) if the derivation failed.
  bool updateReadKey() { return read_.update(); }
  bool updateWriteKey() { return write_.update(); }

 private:
  struct Direction {
    bssl::ScopedEVP_AEAD_CTX aead;
    const EVP_MD* digest = nullptr;
    std::uint8_t secret[kMaxSecret];
    std::uint8_t secretLength = 0;
    std::uint8_t iv[12];
    std::uint64_t sequence = 0;
    bool live = false;
    ~Direction();
    bool init(const EVP_AEAD* cipher, const EVP_MD* md, std::span<const std::uint8_t> s,
              std::uint64_t seq);
    bool update();
    /// The next record's nonce; false once sequence numbers are used up.
    bool nextNonce(std::uint8_t nonce[12]);
  };
  RecordLayer() = default;

  Direction read_;
  Direction write_;
};

}  // namespace wsedge::tls
