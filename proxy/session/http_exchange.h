// One plain HTTP/1.1 request and its response, instead of a tunnel: the
// request's body streamed to the backend as the client sends it, the
// response streamed back as the backend sends it, each with backpressure and
// each checked against its framing (RFC 9112 §6) byte by byte, never
// buffered whole. Once both are complete the client's connection is kept
// for its next request (or closed, as the request and the response say),
// and the backend's connection goes back to the worker's pool when nothing
// about it is in doubt.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "proxy/http/message_body.h"
#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"
#include "proxy/session/outcome.h"

namespace wsedge::proxy {

class Session;

class HttpExchange {
 public:
  /// What it needs of the request is copied: the parser goes with the
  /// client leg's next request.
  HttpExchange(Session& session, const http::RequestParser& request, bool lastOnConnection);

  /// The request head is on its way to the backend: its body may follow.
  void backendReady();
  /// Request body bytes from the client (and what it pipelined behind them).
  void fromClient(std::span<std::byte> data);
  /// The backend's head arrived (any final status but 101); rest follows it.
  void responseHead(const http::UpgradeResponseParser& response, const http::BodyFraming& framing,
                    std::span<std::byte> rest);
  void fromBackend(std::span<std::byte> data);
  void backendEnded(int error);
  void clientDrained();
  void backendDrained();
  void onTimeout();

  int status() const { return status_; }
  bool responseStarted() const { return status_ != 0; }
  std::uint64_t bytesFromClient() const { return bytesFromClient_; }
  std::uint64_t bytesFromBackend() const { return bytesFromBackend_; }

 private:
  /// A failure: answered with status while the client has seen nothing of
  /// the response, cut off otherwise (it must never look complete).
  void fail(Side side, Cause cause, int status, std::string_view detail);
  void progress();
  void maybeDone();
  std::size_t maxBuffered() const;

  Session& session_;
  http::BodyFraming requestBody_;
  http::BodyFraming responseBody_;
  std::optional<http::ChunkedReader> requestChunks_;
  std::optional<http::ChunkedReader> responseChunks_;
  std::uint64_t requestLeft_ = 0;   // kLength: bytes still to come
  std::uint64_t responseLeft_ = 0;  // likewise
  std::uint64_t bytesFromClient_ = 0, bytesFromBackend_ = 0;
  std::uint64_t lastProgressMs_ = 0;
  int status_ = 0;  // of the response, once its head went out
  bool head_;       // a HEAD request: the response has no body
  bool http10_;
  bool keepAlive_;  // the client may send another request after this one
  bool expectsContinue_;
  bool requestDone_ = false;
  bool responseDone_ = false;
  bool persistent_ = false;       // the response told the client the connection stays
  bool backendReusable_ = false;  // the backend's connection may serve another request
};

}  // namespace wsedge::proxy
