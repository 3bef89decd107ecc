#include "proxy/transport/tls_connection.h"

namespace wsedge::transport {
namespace {

// Records are written straight into the queue below; each TLS call's
// output is committed once it returns.
tls::TlsStream::Writer writerFor(Connection& below) {
  return {&below.output(),
          [](void* q, std::size_t n) { return static_cast<io::SendQueue*>(q)->reserve(n); }};
}

}  // namespace

ConnectionPtr secure(ConnectionPtr inner, bssl::UniquePtr<SSL> ssl, io::ChunkPool& pool) {
  return ConnectionPtr(new TlsConnection(std::move(inner), std::move(ssl), pool));
}

TlsConnection::TlsConnection(ConnectionPtr inner, bssl::UniquePtr<SSL> ssl, io::ChunkPool& pool)
    : inner_(std::move(inner)), stream_(std::move(ssl)), plain_(pool) {
  inner_->setHandler(*this);
}

void TlsConnection::flush() {
  if (failed_) {
    // Nothing more of the user's; the alert, if one was written, goes out.
    plain_.clear();
    inner_->output().commit();
    inner_->flush();
    return;
  }
  iovec iov[16];
  const tls::TlsStream::Writer out = writerFor(*inner_);
  while (plain_.pending() > 0) {
    const std::size_t n = plain_.gather(iov, 16);
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (!stream_.send({static_cast<const std::byte*>(iov[i].iov_base), iov[i].iov_len}, out)) {
        // TLS is broken: whatever BoringSSL said goes out, and the user
        // hears of it from the loop, not from inside this call.
        failed_ = true;
        plain_.clear();
        inner_->output().commit();
        inner_->flush();
        if (inCallback_) {
          failPending_ = true;  // said when the callback returns
        } else {
          inner_->failSoon(kTlsFailure);
        }
        return;
      }
      bytes += iov[i].iov_len;
    }
    plain_.consume(bytes);
  }
  inner_->output().commit();
  inner_->flush();
}

void TlsConnection::close(bool graceful) {
  if (closed_) return;
  closed_ = true;
  graceful_ = graceful;
  if (!inCallback_) finish();
}

void TlsConnection::finish() {
  if (graceful_ && !failed_) {
    flush();
    stream_.closeNotify(writerFor(*inner_));
  }
  inner_->output().commit();
  // After a failure the alert BoringSSL wrote is all that is left to say:
  // it goes out even when the user closes at once.
  transport::close(inner_, graceful_ || failed_);
  delete this;
}

bool TlsConnection::finishIfClosed() {
  if (failPending_ && !closed_ && handler_) {
    failPending_ = false;
    handler_->onReadEnd(kTlsFailure);
  }
  inCallback_ = false;
  if (!closed_) return false;
  finish();
  return true;
}

void TlsConnection::onConnected(int error) {
  inCallback_ = true;
  if (error == 0 && stream_.ssl() && !SSL_is_server(stream_.ssl())) {
    // A client speaks first: no input yet, so this writes the ClientHello.
    receive({});
  }
  if (!closed_ && handler_) handler_->onConnected(error);
  finishIfClosed();
}

void TlsConnection::onData(std::span<std::byte> data) {
  if (failed_) return;  // reported once; only the alert goes out now
  inCallback_ = true;
  receive(data);
  finishIfClosed();
}

void TlsConnection::receive(std::span<std::byte> records) {
  const tls::TlsStream::Status st = stream_.receive(
      records, writerFor(*inner_), {this, [](void* self, std::span<std::byte> p) {
                                      static_cast<TlsConnection*>(self)->plaintext(p);
                                    }});
  if (closed_) return;
  if (stream_.handshakeDone()) secured();
  if (closed_) return;
  // Handshake messages, tickets and alerts, and whatever the user wrote,
  // unless TLS broke: then only the alert.
  if (st == tls::TlsStream::Status::kError) failed_ = true;
  flush();
  if (!handler_) return;
  if (st == tls::TlsStream::Status::kError) {
    handler_->onReadEnd(kTlsFailure);
  } else if (st == tls::TlsStream::Status::kClosed) {
    handler_->onReadEnd(0);
  }
}

void TlsConnection::plaintext(std::span<std::byte> data) {
  if (closed_ || !handler_) return;  // closed by an earlier record of this batch
  secured();
  if (!closed_) handler_->onData(data);
}

void TlsConnection::secured() {
  if (secured_) return;
  secured_ = true;
  if (handler_) handler_->onSecured();
}

void TlsConnection::onReadEnd(int error) {
  inCallback_ = true;
  if (!closed_ && handler_) handler_->onReadEnd(error);
  finishIfClosed();
}

void TlsConnection::onDrained() {
  inCallback_ = true;
  if (!closed_ && handler_) handler_->onDrained();
  finishIfClosed();
}

}  // namespace wsedge::transport
