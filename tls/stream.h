// A sans-IO TLS stream over BoringSSL: ciphertext in gives plaintext out,
// plaintext in gives records out. It never touches a socket: custom BIOs
// read ciphertext straight from the caller's receive buffer and hand records
// straight to the caller's writer, so no memory BIO copies anything twice.
//
// A server stream whose handshake ends in TLS 1.3 then hands its records to
// wsedge's own record layer (tls/record_layer.h): records are opened in
// place in the caller's receive buffer, and sealed straight into the
// caller's output. BoringSSL keeps the handshake, TLS 1.2 and the client
// side. The traffic secrets come from BoringSSL's key log callback, which
// captureSecrets() installs on a server context.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tls/record_layer.h"

namespace wsedge::tls {

/// What a finished handshake chose, kept after the SSL itself is freed.
struct TlsSummary {
  std::string serverName;              // SNI, or empty (known from the ClientHello on)
  const SSL_CIPHER* cipher = nullptr;  // static: valid for ever
  std::uint16_t version = 0;
  /// The server certificate SNI chose (ServerContext::choiceOf), 0 for none.
  std::uintptr_t certificateChoice = 0;
};

class TlsStream {
 public:
  /// Where records go: room for n more bytes of output, after what was
  /// reserved before. The stream fills it before it reserves more or
  /// returns; when the call returns, the caller commits what it wrote.
  struct Writer {
    void* context;
    std::byte* (*reserve)(void* context, std::size_t n);
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

  /// Lets the server SSLs of ctx learn their traffic secrets, so that a
  /// TLS 1.3 stream can take over its records after the handshake.
  static void captureSecrets(SSL_CTX* ctx);

  explicit TlsStream(bssl::UniquePtr<SSL> ssl);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  /// Feeds ciphertext (decrypted in place, so writable). Handshake messages,
  /// tickets and alerts go to `out`; decrypted application data to `in`.
  Status receive(std::span<std::byte> ciphertext, Writer out, Reader in);
  /// Encrypts plaintext into records (of at most 16 KiB) written to `out`.
  bool send(std::span<const std::byte> plaintext, Writer out);
  /// Writes a close_notify alert.
  void closeNotify(Writer out);

  /// For tests and the fuzzer: from now on the records are this layer's,
  /// as if a TLS 1.3 handshake had just ended.
  void adoptRecords(std::unique_ptr<RecordLayer> records) {
    records_ = std::move(records);
    done_ = true;
  }

  bool handshakeDone() const { return done_; }
  /// After the handshake.
  const TlsSummary& summary() const { return summary_; }
  /// wsedge's record layer, not BoringSSL's, carries the application data.
  bool ownsRecords() const { return records_ != nullptr; }
  /// The BoringSSL session: null once the record layer has taken over
  /// (wsedge then needs nothing more of it, and frees it with its buffers,
  /// keys and session state; summary() says what it chose).
  SSL* ssl() const { return ssl_.get(); }
  const std::string& error() const { return error_; }

 private:
  static int bioRead(BIO* b, char* out, int len);
  static int bioWrite(BIO* b, const char* in, int len);
  static long bioCtrl(BIO* b, int cmd, long num, void* ptr);
  static const BIO_METHOD* method();
  Status fail(int rc);
  static void onKeyLog(const SSL* ssl, const char* line);
  void summarize();
  void noteServerName();
  /// After the handshake: the record layer takes over if it can.
  void takeOver();
  Status openRecords(std::span<std::byte> data, Reader in);
  Status openRecord(std::span<std::byte> record, Reader in);
  Status postHandshake(std::span<const std::byte> messages);
  /// Seals pieces of at most one record each, of type, to out_.
  bool seal(RecordLayer::Type type, std::span<const std::byte> plaintext);
  /// Sends the KeyUpdate the peer asked for, and moves to the next key.
  bool answerKeyUpdate();
  /// Ends the stream with an alert to the peer, and says why in error().
  Status failWith(RecordLayer::Alert alert, std::string why);

  struct Secrets;
  bssl::UniquePtr<SSL> ssl_;
  std::span<const std::byte> in_;
  Writer out_{};
  bool done_ = false;
  Status ended_ = Status::kOk;        // once closed or broken, it stays so
  std::unique_ptr<Secrets> secrets_;  // captured during the handshake only
  std::unique_ptr<RecordLayer> records_;
  TlsSummary summary_;
  // The start of a record that a receive ended inside: only while one does.
  std::vector<std::byte> partial_;
  bool keyUpdateOwed_ = false;     // the peer asked for one: ours precedes our next data
  std::uint8_t emptyRecords_ = 0;  // in a row: no data, a KeyUpdate, user_canceled
  std::string error_;
};

}  // namespace wsedge::tls
