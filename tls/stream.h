// A sans-IO TLS stream over BoringSSL: ciphertext in gives plaintext out,
// plaintext in gives records out. It never touches a socket: custom BIOs
// read ciphertext straight from the caller's receive buffer and hand records
// straight to the caller's writer, so no memory BIO copies anything twice.
//
// bssl::OpenRecord / SealRecord (in-place records) would save one more copy
// each way, but in this BoringSSL they refuse TLS 1.3 (they assert a TLS 1.2
// server), so they are not used.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <span>
#include <string>

namespace wsedge::tls {

class TlsStream {
 public:
  /// Where records go: called for each piece of TLS output.
  struct Writer {
    void* context;
    void (*write)(void* context, const std::byte* data, std::size_t n);
  };
  /// Where plaintext goes: a span valid only during the call, writable.
  struct Reader {
    void* context;
    void (*read)(void* context, std::span<std::byte> plaintext);
  };

  enum class Status : std::uint8_t {
    kOk,      // everything consumed
    kClosed,  // the peer sent close_notify
    kError,   // handshake failure or a bad record: see error()
  };

  explicit TlsStream(bssl::UniquePtr<SSL> ssl);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  /// Feeds ciphertext. Handshake messages, tickets and alerts go to `out`;
  /// decrypted application data to `in`.
  Status receive(std::span<const std::byte> ciphertext, Writer out, Reader in);
  /// Encrypts plaintext into records (of at most 16 KiB) written to `out`.
  bool send(std::span<const std::byte> plaintext, Writer out);
  /// Writes a close_notify alert.
  void closeNotify(Writer out);

  bool handshakeDone() const { return done_; }
  SSL* ssl() const { return ssl_.get(); }
  const std::string& error() const { return error_; }

 private:
  static int bioRead(BIO* b, char* out, int len);
  static int bioWrite(BIO* b, const char* in, int len);
  static long bioCtrl(BIO* b, int cmd, long num, void* ptr);
  static const BIO_METHOD* method();
  Status fail(int rc);

  bssl::UniquePtr<SSL> ssl_;
  std::span<const std::byte> in_;
  Writer out_{};
  bool done_ = false;
  std::string error_;
};

}  // namespace wsedge::tls
