// One proxied WebSocket: a client connection and, once routed, a backend
// connection, on one worker from accept to close.
//
//   kRequest    read and check the client's upgrade request (handshake timeout)
//   kConnecting connect to a backend of the routed pool, retrying the next
//               one on failure (connect timeout per attempt)
//   kUpgrading  send the upgrade, wait for the backend's answer (backend timeout)
//   kResponse   the backend refused the upgrade: relay its HTTP answer, close
//   kOpen       relay frames both ways (idle timeout; close timeout once a
//               close frame has crossed)
//   kClosing    both connections are closing; the session ends when both are closed
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/loop.h"
#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"
#include "proxy/relay.h"
#include "proxy/runtime.h"
#include "tls/server_context.h"
#include "tls/stream.h"

namespace wsedge::proxy {

class ProxyWorker;

class Session final : public io::StreamHandler, private io::TimerHandler {
 public:
  /// tlsContext: the listener's (per worker) for wss://, null for ws://.
  Session(ProxyWorker& worker, const ListenerRuntime& listener, tls::ServerContext* tlsContext,
          int fd);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// The worker is stopping: close with 1001 if open, at once otherwise.
  void shutdown();

  // The worker's list of live sessions.
  Session* prev = nullptr;
  Session* next = nullptr;

 private:
  enum class Phase : std::uint8_t { kRequest, kConnecting, kUpgrading, kResponse, kOpen, kClosing };

  void onData(io::ConnId id, std::span<std::byte> data) override;
  void onReadEnd(io::ConnId id, int error) override;
  void onConnected(io::ConnId id, int error) override;
  void onDrained(io::ConnId id) override;
  void onClosed(io::ConnId id) override;
  void onTimer(io::Timer& timer) override;

  io::Loop& loop();
  const conf::Limits& limits() const;
  void arm(std::uint64_t ms);
  /// Where bytes for the client are written: the plaintext staging queue
  /// with TLS, the socket's queue without. flushClient() then encrypts (if
  /// need be) and sends.
  io::SendQueue& clientOut();
  void flushClient();
  void sendToClient(std::string_view text);
  void sendToBackend(std::string_view text);
  void onClientBytes(std::span<std::byte> data);
  bool hostMatchesCertificate() const;

  void onClientRequest(std::span<std::byte> data);
  void keepEarlyBytes(std::span<const std::byte> data);
  void beginBackend();
  void connectNext();
  void onBackendResponse(std::span<std::byte> data);
  void openTunnel(std::span<std::byte> rest);
  void relayResponse(std::span<std::byte> rest);
  void relayResponseBody(std::span<std::byte> data);
  void relayFromClient(std::span<std::byte> data);
  void relayFromBackend(std::span<std::byte> data);
  void applyBackpressure(io::ConnId source, io::ConnId destination, bool& paused);

  /// Answers the client with an HTTP error and closes everything.
  void replyError(int status, std::string_view detail);
  /// Sends close frames (if not already sent) and closes both connections.
  void closeWith(std::uint16_t toClient, std::string_view clientReason, std::uint16_t toBackend,
                 std::string_view backendReason);
  /// Closes both connections, flushing what is queued.
  void finish();
  void abortAll();

  ProxyWorker& worker_;
  const ListenerRuntime& listener_;
  tls::ServerContext* tlsContext_;
  std::unique_ptr<tls::TlsStream> tls_;  // wss:// only
  io::SendQueue clientPlain_;            // wss:// only: plaintext before sealing; empty when idle
  io::Timer timer_;
  Phase phase_ = Phase::kRequest;
  io::ConnId client_;
  io::ConnId backend_;
  int liveConns_ = 0;

  // Handshake state, released once the tunnel is open.
  std::unique_ptr<http::UpgradeRequestParser> request_;
  std::unique_ptr<http::UpgradeResponseParser> response_;
  std::string backendRequest_;
  std::vector<std::byte> early_;  // client bytes that came before the backend's 101
  std::size_t pool_ = 0;
  std::size_t backendIndex_ = 0;  // in the pool: the one being tried
  std::uint32_t attempts_ = 0;
  std::uint32_t maxAttempts_ = 0;
  bool lastFailureTimedOut_ = false;
  std::uint64_t bodyLeft_ = 0;  // kResponse: bytes of body still to relay
  bool bodyLength_ = false;     // kResponse: Content-Length known
  std::uint64_t bodyRelayed_ = 0;

  // Tunnel state.
  std::optional<ClientToBackend> toBackend_;
  std::optional<BackendToClient> toClient_;
  bool clientPaused_ = false;  // backpressure: the backend's queue is full
  bool earlyPaused_ = false;   // the client sent kEarlyBytesMax before the backend's 101
  bool backendPaused_ = false;
  bool closeFromClient_ = false;   // the client's close frame was forwarded
  bool closeFromBackend_ = false;  // the backend's close frame was forwarded
  std::uint64_t lastActivity_ = 0;
};

}  // namespace wsedge::proxy
