#include "tls/stream.h"

#include <openssl/err.h>

#include <cstring>

#include "tls/certificates.h"

namespace wsedge::tls {

namespace {
// One record of plaintext at most comes out of each SSL_read.
thread_local std::byte tScratch[16384];
}  // namespace

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

TlsStream::TlsStream(bssl::UniquePtr<SSL> ssl) : ssl_(std::move(ssl)) {
  BIO* bio = BIO_new(method());
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_.get(), bio, bio);  // one BIO both ways; the SSL owns it
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
  if (!self->out_.write) {
    BIO_set_retry_write(b);
    return -1;
  }
  self->out_.write(self->out_.context, reinterpret_cast<const std::byte*>(in),
                   static_cast<std::size_t>(len));
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

TlsStream::Status TlsStream::receive(std::span<const std::byte> ciphertext, Writer out, Reader in) {
  in_ = ciphertext;
  out_ = out;
  Status status = Status::kOk;
  if (!done_) {
    const int rc = SSL_do_handshake(ssl_.get());
    if (rc == 1) {
      done_ = true;
      // BoringSSL holds a TLS 1.3 server's session tickets until its next
      // write; a zero-length write sends them now, so a client that never
      // hears from us again can still resume.
      SSL_write(ssl_.get(), "", 0);
    } else if (SSL_get_error(ssl_.get(), rc) != SSL_ERROR_WANT_READ) {
      status = fail(rc);
    }
  }
  while (done_ && status == Status::kOk) {
    const int n = SSL_read(ssl_.get(), tScratch, sizeof tScratch);
    if (n > 0) {
      in.read(in.context, {tScratch, static_cast<std::size_t>(n)});
      continue;
    }
    if (SSL_get_error(ssl_.get(), n) == SSL_ERROR_WANT_READ) break;
    status = fail(n);
  }
  in_ = {};
  out_ = {};
  return status;
}

bool TlsStream::send(std::span<const std::byte> plaintext, Writer out) {
  // May be called from inside receive() (a reader that answers at once):
  // the writer receive() set stays in place afterwards.
  const Writer outer = out_;
  out_ = out;
  bool ok = true;
  while (!plaintext.empty()) {
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
  if (!done_) return;
  const Writer outer = out_;
  out_ = out;
  SSL_shutdown(ssl_.get());
  out_ = outer;
}

}  // namespace wsedge::tls
