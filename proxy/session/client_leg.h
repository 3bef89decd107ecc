// The client's side of a session, and the handler of its connection: reads
// and checks each request (handshake timeout; between plain requests the
// keepalive timeout), admits it (the certificate covers the Host), routes
// it, keeps what the client pipelines until its turn (the 101, or the end of
// the response before), then hands its bytes to the tunnel, or a plain
// request's body to the exchange.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/http/request_parser.h"
#include "proxy/session/leg.h"
#include "proxy/snapshot.h"

namespace wsedge::proxy {

class Session;

class ClientLeg final : public Leg, private transport::Handler {
 public:
  ClientLeg(Session& session, transport::ConnectionPtr connection);

  /// Valid until enterTunnel() or enterRefused().
  const http::RequestParser& request() const { return handshake_->request; }
  /// The upgrade request for the backend: the route's rewrite and header
  /// edits, X-Forwarded-* as the peer's trust allows.
  std::string backendRequest(const RouteSnapshot& route) const;
  /// The hash of the request's key for a hashing pool; empty if it has none.
  std::optional<std::uint64_t> hashKey(const conf::HashKey& key) const;
  std::string peerIp() const;
  const tls::TlsSummary* tls() const { return connected() ? connection().tls() : nullptr; }
  std::optional<io::SocketAddress> peerAddress() const {
    return connected() ? connection().peerAddress() : std::nullopt;
  }
  /// The request is still held (until enterTunnel() or enterRefused()).
  bool hasRequest() const { return handshake_ != nullptr; }
  /// The request held is a complete plain (non-upgrade) one.
  bool plainRequest() const;
  /// Not a byte of the next request has arrived.
  bool nothingReceived() const;

  /// A plain request's body is wanted now: what came behind the head, then
  /// what arrives, goes to the exchange.
  void startBody();
  /// The body is complete; rest (the next request) waits its turn.
  void bodyDone(std::span<const std::byte> rest);
  /// The response is complete and the connection stays: the next request
  /// is read (from what was pipelined first).
  void nextRequest();

  /// The 101 went out: the request is released and the bytes the client
  /// sent behind it are handed over.
  std::vector<std::byte> enterTunnel();
  /// The same, for a push-only route's session.
  std::vector<std::byte> enterPush();
  /// The upgrade was refused: what the client sends from now on is dropped.
  void enterRefused();
  void onTimeout();
  void close(bool graceful) { closeConnection(graceful); }

 private:
  // kWaiting: bytes that are not this request's are kept; kBody: they are
  // a plain request's body.
  enum class Phase : std::uint8_t { kRequest, kWaiting, kBody, kTunnel, kPush, kIgnoring };

  void onConnected(int) override {}
  void onSecured() override;
  void onData(std::span<std::byte> data) override;
  void onReadEnd(int error) override;
  void onDrained() override;

  void onRequestBytes(std::span<std::byte> data);
  bool hostMatchesCertificate();
  void keepEarlyBytes(std::span<const std::byte> data);

  // Until the 101 (or the refusal, or the next request): nothing of it is
  // held by an open tunnel.
  struct Handshake {
    http::RequestParser request;
    std::vector<std::byte> early;  // bytes behind the request, before their turn
  };

  Session& session_;
  Phase phase_ = Phase::kRequest;
  std::unique_ptr<Handshake> handshake_;
};

}  // namespace wsedge::proxy
