// The client's side of a session, and the handler of its connection: reads
// and checks the upgrade request (handshake timeout), admits it (the
// certificate covers the Host), routes it, keeps what the client pipelines
// until the backend has accepted, then hands its bytes to the tunnel.
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
  const http::UpgradeRequestParser& request() const { return handshake_->request; }
  /// The upgrade request for the backend: the route's rewrite and header
  /// edits, X-Forwarded-* as the peer's trust allows.
  std::string backendRequest(const RouteSnapshot& route) const;
  /// The hash of the request's key for a hashing pool; empty if it has none.
  std::optional<std::uint64_t> hashKey(const conf::HashKey& key) const;
  std::string peerIp() const;
  SSL* ssl() const { return connected() ? connection().ssl() : nullptr; }
  std::optional<io::SocketAddress> peerAddress() const {
    return connected() ? connection().peerAddress() : std::nullopt;
  }
  /// The request is still held (until enterTunnel() or enterRefused()).
  bool hasRequest() const { return handshake_ != nullptr; }

  /// The 101 went out: the request is released and the bytes the client
  /// sent behind it are handed over.
  std::vector<std::byte> enterTunnel();
  /// The upgrade was refused: what the client sends from now on is dropped.
  void enterRefused();
  void onTimeout();
  void close(bool graceful) { closeConnection(graceful); }

 private:
  enum class Phase : std::uint8_t { kRequest, kWaiting, kTunnel, kIgnoring };

  void onConnected(int) override {}
  void onSecured() override;
  void onData(std::span<std::byte> data) override;
  void onReadEnd(int error) override;
  void onDrained() override;

  void onRequestBytes(std::span<std::byte> data);
  bool hostMatchesCertificate();
  void keepEarlyBytes(std::span<const std::byte> data);

  // Until the 101 (or the refusal): nothing of it is held by an open tunnel.
  struct Handshake {
    http::UpgradeRequestParser request;
    std::vector<std::byte> early;  // bytes behind the request, before the 101
  };

  Session& session_;
  Phase phase_ = Phase::kRequest;
  std::unique_ptr<Handshake> handshake_;
};

}  // namespace wsedge::proxy
