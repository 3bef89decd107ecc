// TLS on top of any connection (a socket, or memory in a test): records in
// and out below, plaintext above. The handshake starts on its own: at once
// for a server, once the connection is up for a client.
#pragma once

#include <openssl/ssl.h>

#include "proxy/transport/connection.h"
#include "tls/stream.h"

namespace wsedge::transport {

/// Wraps inner in TLS with ssl (SSL_set_accept_state or _connect_state
/// already called). Plaintext written to the result is sealed when flushed.
ConnectionPtr secure(ConnectionPtr inner, bssl::UniquePtr<SSL> ssl, io::ChunkPool& pool);

class TlsConnection final : public Connection, private Handler {
 public:
  TlsConnection(ConnectionPtr inner, bssl::UniquePtr<SSL> ssl, io::ChunkPool& pool);

  void setHandler(Handler& handler) override { handler_ = &handler; }
  io::SendQueue& output() override { return plain_; }
  void flush() override;
  std::size_t pending() const override { return plain_.pending() + inner_->pending(); }
  std::uint64_t bytesSent() const override { return inner_->bytesSent(); }
  void notifyWhenDrained(std::size_t below) override { inner_->notifyWhenDrained(below); }
  void pauseRecv() override { inner_->pauseRecv(); }
  void resumeRecv() override { inner_->resumeRecv(); }
  void limitRecv(std::size_t bytes) override { inner_->limitRecv(bytes); }
  void failSoon(int error) override { inner_->failSoon(error); }
  void close(bool graceful) override;
  std::optional<io::SocketAddress> peerAddress() const override { return inner_->peerAddress(); }
  const tls::TlsSummary* tls() const override { return &stream_.summary(); }
  SSL* ssl() const override { return stream_.ssl(); }
  const char* tlsError() const override { return stream_.error().c_str(); }

 private:
  ~TlsConnection() override = default;

  // From the connection below.
  void onConnected(int error) override;
  void onData(std::span<std::byte> data) override;
  void onReadEnd(int error) override;
  void onDrained() override;

  void receive(std::span<std::byte> records);
  void plaintext(std::span<std::byte> data);
  void secured();
  /// Runs the close the user asked for during a callback, once it returns.
  bool finishIfClosed();
  void finish();

  ConnectionPtr inner_;
  tls::TlsStream stream_;
  io::SendQueue plain_;  // plaintext not yet sealed; empty when idle
  Handler* handler_ = nullptr;
  bool inCallback_ = false;
  bool closed_ = false;
  bool graceful_ = false;
  bool failed_ = false;       // TLS broke: only the alert may still go out
  bool failPending_ = false;  // broke during a callback: tell the user as it returns
  bool secured_ = false;      // onSecured() was delivered
};

}  // namespace wsedge::transport
