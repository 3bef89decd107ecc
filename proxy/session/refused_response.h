// A backend that answered the upgrade with anything but a valid 101 (a 403,
// say): its answer is relayed to the client as it is, with Connection:
// close, and the session ends once the body is through (or the backend
// closes, or backend_timeout passes). Nothing the client sends from now on
// reaches the backend.
#pragma once

#include <cstdint>
#include <span>

#include "proxy/http/body_framing.h"
#include "proxy/http/response_parser.h"

namespace wsedge::proxy {

class Session;

class RefusedResponse {
 public:
  explicit RefusedResponse(Session& session) : session_(session) {}

  /// Relays the head, then what of the body came with it.
  void start(const http::UpgradeResponseParser& response, std::span<std::byte> rest);
  void body(std::span<std::byte> data);
  void backendEnded();
  void onTimeout();
  int status() const { return status_; }

 private:
  Session& session_;
  http::ResponseBody body_;
  std::uint64_t relayed_ = 0;
  int status_ = 0;
};

}  // namespace wsedge::proxy
