#include "tls/stream.h"

#include <openssl/err.h>
#include <openssl/mem.h>

#include <charconv>
#include <cstring>
#include <new>
#include <string_view>

#include "tls/certificates.h"
#include "tls/server_context.h"

namespace wsedge::tls {

namespace {
// One record of plaintext at most comes out of each SSL_read.
thread_local std::byte tScratch[16384];

int streamIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

// The application traffic secrets, from the key log, until the handshake ends.
struct TlsStream::Secrets {
  std::uint8_t client[RecordLayer::kMaxSecret];
  std::uint8_t server[RecordLayer::kMaxSecret];
  std::uint8_t clientLength = 0;
  std::uint8_t serverLength = 0;
  ~Secrets() { OPENSSL_cleanse(this, sizeof *this); }
};

const BIO_METHOD* TlsStream::method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* bm = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "wsedge");
    BIO_meth_set_read(bm, bioRead);
    BIO_meth_set_write(bm, bioWrite);
    BIO_meth_set_ctrl(bm, bioCtrl);
    return bm;
  }();
  return m;
}

void TlsStream::captureSecrets(SSL_CTX* ctx) {
  SSL_CTX_set_keylog_callback(ctx, onKeyLog);
}

// "CLIENT_TRAFFIC_SECRET_0 <client random> <secret>", in hex; the other
// lines (handshake secrets, the exporter) are not needed.
void TlsStream::onKeyLog(const SSL* ssl, const char* line) {
  auto* self = static_cast<TlsStream*>(SSL_get_ex_data(ssl, streamIndex()));
  if (!self || !SSL_is_server(ssl)) return;
  const std::string_view text(line);
  const bool client = text.starts_with("CLIENT_TRAFFIC_SECRET_0 ");
  if (!client && !text.starts_with("SERVER_TRAFFIC_SECRET_0 ")) return;
  const std::size_t space = text.rfind(' ');
  const std::string_view hex = text.substr(space + 1);
  if (hex.size() % 2 != 0 || hex.size() / 2 > RecordLayer::kMaxSecret) return;
  std::uint8_t secret[RecordLayer::kMaxSecret];
  for (std::size_t i = 0; i < hex.size() / 2; ++i) {
    const char* digits = hex.data() + 2 * i;
    if (std::from_chars(digits, digits + 2, secret[i], 16).ptr != digits + 2) return;
  }
  // No exception may cross BoringSSL's frames: without memory, no secret,
  // and the stream keeps BoringSSL's records.
  if (!self->secrets_) self->secrets_.reset(new (std::nothrow) Secrets);
  if (!self->secrets_) return;
  std::uint8_t* out = client ? self->secrets_->client : self->secrets_->server;
  std::memcpy(out, secret, hex.size() / 2);
  OPENSSL_cleanse(secret, sizeof secret);
  (client ? self->secrets_->clientLength : self->secrets_->serverLength) =
      static_cast<std::uint8_t>(hex.size() / 2);
}

TlsStream::TlsStream(bssl::UniquePtr<SSL> ssl) : ssl_(std::move(ssl)) {
  BIO* bio = BIO_new(method());
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_.get(), bio, bio);  // one BIO both ways; the SSL owns it
  if (SSL_is_server(ssl_.get())) SSL_set_ex_data(ssl_.get(), streamIndex(), this);
}

TlsStream::~TlsStream() = default;

int TlsStream::bioRead(BIO* b, char* out, int len) {
  auto* self = static_cast<TlsStream*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (self->in_.empty()) {
    BIO_set_retry_read(b);
    return -1;
  }
  const std::size_t n = std::min(self->in_.size(), static_cast<std::size_t>(len));
  std::memcpy(out, self->in_.data(), n);
  self->in_ = self->in_.subspan(n);
  return static_cast<int>(n);
}

int TlsStream::bioWrite(BIO* b, const char* in, int len) {
  auto* self = static_cast<TlsStream*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (!self->out_.reserve) {
    BIO_set_retry_write(b);
    return -1;
  }
  if (len > 0) {
    std::memcpy(self->out_.reserve(self->out_.context, static_cast<std::size_t>(len)), in,
                static_cast<std::size_t>(len));
  }
  return len;
}

long TlsStream::bioCtrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

TlsStream::Status TlsStream::fail(int rc) {
  const int err = SSL_get_error(ssl_.get(), rc);
  if (err == SSL_ERROR_ZERO_RETURN) return Status::kClosed;
  error_ = err == SSL_ERROR_SSL ? lastError() : "TLS error " + std::to_string(err);
  ERR_clear_error();
  return Status::kError;
}

void TlsStream::noteServerName() {
  if (!summary_.serverName.empty()) return;
  if (const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name)) {
    summary_.serverName = name;
  }
}

void TlsStream::summarize() {
  SSL* ssl = ssl_.get();
  noteServerName();
  summary_.cipher = SSL_get_current_cipher(ssl);
  summary_.version = static_cast<std::uint16_t>(SSL_version(ssl));
  summary_.certificateChoice = ServerContext::choiceOf(ssl);
}

void TlsStream::takeOver() {
  const std::unique_ptr<Secrets> secrets = std::move(secrets_);
  // TLS 1.3 only, with both secrets, and nothing left inside BoringSSL.
  if (!secrets || !secrets->clientLength || !secrets->serverLength ||
      SSL_version(ssl_.get()) != TLS1_3_VERSION || SSL_has_pending(ssl_.get())) {
    return;
  }
  records_ = RecordLayer::create(
      SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(ssl_.get())),
      {secrets->client, secrets->clientLength}, SSL_get_read_sequence(ssl_.get()),
      {secrets->server, secrets->serverLength}, SSL_get_write_sequence(ssl_.get()));
}

TlsStream::Status TlsStream::receive(std::span<std::byte> ciphertext, Writer out, Reader in) {
  if (ended_ != Status::kOk) return ended_;
  out_ = out;
  Status status = Status::kOk;
  if (!records_) {
    in_ = ciphertext;
    if (!done_) {
      const int rc = SSL_do_handshake(ssl_.get());
      noteServerName();  // also for the access log of a handshake that fails
      if (rc == 1) {
        done_ = true;
        // BoringSSL holds a TLS 1.3 server's session tickets until its next
        // write; a zero-length write sends them now, so a client that never
        // hears from us again can still resume.
        SSL_write(ssl_.get(), "", 0);
        summarize();
        if (SSL_is_server(ssl_.get())) takeOver();
        secrets_.reset();
        if (records_) ssl_.reset();
      } else if (SSL_get_error(ssl_.get(), rc) != SSL_ERROR_WANT_READ) {
        status = fail(rc);
      }
    }
    while (done_ && !records_ && status == Status::kOk) {
      const int n = SSL_read(ssl_.get(), tScratch, sizeof tScratch);
      if (n > 0) {
        in.read(in.context, {tScratch, static_cast<std::size_t>(n)});
        continue;
      }
      if (SSL_get_error(ssl_.get(), n) == SSL_ERROR_WANT_READ) break;
      status = fail(n);
    }
    // What BoringSSL did not read is the record layer's from here on.
    ciphertext = ciphertext.last(in_.size());
    in_ = {};
  }
  if (records_ && status == Status::kOk) status = openRecords(ciphertext, in);
  if (status != Status::kOk) ended_ = status;
  out_ = {};
  return status;
}

TlsStream::Status TlsStream::openRecords(std::span<std::byte> data, Reader in) {
  if (!partial_.empty()) {
    // First the record a previous receive ended inside: its header, then
    // the rest of what the header announced.
    for (int step = 0; step < 2; ++step) {  // the second checks the header the first completed
      std::size_t want = RecordLayer::kHeader;
      if (partial_.size() >= RecordLayer::kHeader) {
        want = RecordLayer::recordLength(partial_);
        if (want > RecordLayer::kMaxRecord) {
          return failWith(RecordLayer::kRecordOverflow, "a TLS record longer than 16 KiB");
        }
      }
      const std::size_t n = std::min(want - partial_.size(), data.size());
      partial_.insert(partial_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
      data = data.subspan(n);
    }
    if (partial_.size() < RecordLayer::kHeader ||
        partial_.size() < RecordLayer::recordLength(partial_)) {
      return Status::kOk;
    }
    std::vector<std::byte> record = std::move(partial_);  // freed once it is opened
    partial_.clear();
    const Status st = openRecord(record, in);
    if (st != Status::kOk) return st;
  }
  while (data.size() >= RecordLayer::kHeader) {
    const std::size_t length = RecordLayer::recordLength(data);
    if (length > RecordLayer::kMaxRecord) {
      return failWith(RecordLayer::kRecordOverflow, "a TLS record longer than 16 KiB");
    }
    if (data.size() < length) break;
    const Status st = openRecord(data.first(length), in);
    if (st != Status::kOk) return st;
    data = data.subspan(length);
  }
  if (!data.empty()) {
    // Room for the whole record once its header is known: an idle peer that
    // sent a few bytes holds a few bytes.
    partial_.reserve(data.size() >= RecordLayer::kHeader ? RecordLayer::recordLength(data)
                                                         : RecordLayer::kHeader);
    partial_.assign(data.begin(), data.end());
  }
  return Status::kOk;
}

TlsStream::Status TlsStream::openRecord(std::span<std::byte> record, Reader in) {
  const RecordLayer::Opened r = records_->open(record);
  if (r.alert != RecordLayer::kCloseNotify) {
    return failWith(r.alert, r.alert == RecordLayer::kBadRecordMac
                                 ? "a TLS record failed to decrypt (bad record MAC)"
                             : r.alert == RecordLayer::kRecordOverflow
                                 ? "a TLS record longer than 16 KiB"
                                 : "an unexpected TLS record");
  }
  // Records that carry no data cost as much to open as those that do: like
  // BoringSSL, allow only so many in a row.
  constexpr std::uint8_t kMaxEmptyRecords = 32;
  if (r.type == RecordLayer::Type::kApplicationData && !r.plaintext.empty()) {
    emptyRecords_ = 0;
  } else if (++emptyRecords_ > kMaxEmptyRecords) {
    return failWith(RecordLayer::kUnexpectedMessage, "too many TLS records without data");
  }
  switch (r.type) {
    case RecordLayer::Type::kApplicationData:
      if (!r.plaintext.empty()) in.read(in.context, r.plaintext);
      return Status::kOk;
    case RecordLayer::Type::kAlert: {
      if (r.plaintext.size() != 2) return failWith(RecordLayer::kDecodeError, "a malformed alert");
      const auto description = std::to_integer<std::uint8_t>(r.plaintext[1]);
      if (description == RecordLayer::kCloseNotify) return Status::kClosed;
      if (description == RecordLayer::kUserCanceled) return Status::kOk;  // close_notify follows
      error_ = "the peer sent TLS alert " + std::to_string(description);
      return Status::kError;
    }
    case RecordLayer::Type::kHandshake:
      return postHandshake(r.plaintext);
  }
  return failWith(RecordLayer::kUnexpectedMessage, "a TLS record of an unknown type");
}

// What a client may send after the handshake: KeyUpdate (RFC 8446 §4.6.3).
// wsedge never asks for a certificate, and BoringSSL clients never split
// KeyUpdate across records, so a message split across records is refused.
TlsStream::Status TlsStream::postHandshake(std::span<const std::byte> messages) {
  constexpr std::uint8_t kKeyUpdate = 24;
  if (messages.size() != 5 || std::to_integer<std::uint8_t>(messages[0]) != kKeyUpdate ||
      messages[1] != std::byte{0} || messages[2] != std::byte{0} || messages[3] != std::byte{1}) {
    return failWith(RecordLayer::kUnexpectedMessage, "an unexpected TLS handshake message");
  }
  const auto requested = std::to_integer<std::uint8_t>(messages[4]);
  if (requested > 1) return failWith(RecordLayer::kDecodeError, "a malformed KeyUpdate");
  if (!records_->updateReadKey()) return failWith(RecordLayer::kInternalError, "KeyUpdate failed");
  // Ours is owed before our next data record; however many ask while we
  // are silent, one answers them all (RFC 8446 §4.6.3).
  if (requested == 1) keyUpdateOwed_ = true;
  return Status::kOk;
}

bool TlsStream::answerKeyUpdate() {
  keyUpdateOwed_ = false;
  // Under the old key, not asking back; then the new key.
  constexpr std::byte kAnswer[] = {std::byte{24}, std::byte{0}, std::byte{0}, std::byte{1},
                                   std::byte{0}};
  if (seal(RecordLayer::Type::kHandshake, kAnswer) && records_->updateWriteKey()) return true;
  error_ = "KeyUpdate failed";
  return false;
}

bool TlsStream::seal(RecordLayer::Type type, std::span<const std::byte> plaintext) {
  // Room is only reserved for a record that can be sealed: what is
  // reserved goes out, and must never be stale bytes of a pooled chunk.
  if (!records_->canSeal(
          (plaintext.size() + RecordLayer::kMaxPlaintext - 1) / RecordLayer::kMaxPlaintext + 1)) {
    error_ = "TLS sequence numbers ran out";
    return false;
  }
  do {
    const std::size_t n = std::min(plaintext.size(), RecordLayer::kMaxPlaintext);
    std::byte* room = out_.reserve(out_.context, n + RecordLayer::kOverhead);
    records_->seal(type, plaintext.first(n), room);
    plaintext = plaintext.subspan(n);
  } while (!plaintext.empty());
  return true;
}

TlsStream::Status TlsStream::failWith(RecordLayer::Alert alert, std::string why) {
  error_ = std::move(why);
  constexpr std::byte kFatal{2};
  const std::byte body[] = {kFatal, std::byte{alert}};
  if (out_.reserve && records_->canSeal(1)) seal(RecordLayer::Type::kAlert, body);
  return Status::kError;
}

bool TlsStream::send(std::span<const std::byte> plaintext, Writer out) {
  // May be called from inside receive() (a reader that answers at once):
  // the writer receive() set stays in place afterwards.
  if (ended_ == Status::kError) return false;  // after a fatal alert, nothing
  const Writer outer = out_;
  out_ = out;
  bool ok = true;
  if (records_ && !plaintext.empty()) {
    ok = (!keyUpdateOwed_ || answerKeyUpdate()) &&
         seal(RecordLayer::Type::kApplicationData, plaintext);
  }
  while (!records_ && !plaintext.empty()) {
    const int n = SSL_write(ssl_.get(), plaintext.data(),
                            static_cast<int>(std::min<std::size_t>(plaintext.size(), 1 << 30)));
    if (n <= 0) {
      fail(n);
      ok = false;
      break;
    }
    plaintext = plaintext.subspan(static_cast<std::size_t>(n));
  }
  out_ = outer;
  return ok;
}

void TlsStream::closeNotify(Writer out) {
  if (!done_ || ended_ == Status::kError) return;
  const Writer outer = out_;
  out_ = out;
  if (records_) {
    constexpr std::byte kWarning{1};
    const std::byte body[] = {kWarning, std::byte{RecordLayer::kCloseNotify}};
    if (records_->canSeal(1)) seal(RecordLayer::Type::kAlert, body);
  } else {
    SSL_shutdown(ssl_.get());
  }
  out_ = outer;
}

}  // namespace wsedge::tls
