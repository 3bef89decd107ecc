#include "proxy/session/refused_response.h"

#include "proxy/http/forwarding.h"
#include "proxy/log.h"
#include "proxy/session/session.h"

namespace wsedge::proxy {
namespace {

// A refused upgrade's body is relayed up to this size.
constexpr std::uint64_t kBodyMax = 1 << 20;

}  // namespace

void RefusedResponse::start(const http::UpgradeResponseParser& response,
                            std::span<std::byte> rest) {
  status_ = response.status();
  WSEDGE_LOG(kInfo, "backend refused the upgrade with %d; relaying it", status_);
  std::string head;
  http::writeRelayedResponseHead(head, response);
  session_.client().send(head);
  body_ = http::ResponseBody::forHead(response.head());
  session_.arm(session_.route().limits.backendTimeoutMs);
  if (body_.complete()) return session_.end(Outcome::finish(Side::kBackend, Cause::kRefused));
  body(rest);
}

void RefusedResponse::body(std::span<std::byte> data) {
  const std::size_t take = body_.take(data.size());
  if (take > 0) session_.client().send(data.first(take));
  relayed_ += take;
  if (body_.complete() || relayed_ >= kBodyMax) {
    session_.end(Outcome::finish(Side::kBackend, Cause::kRefused));
  }
}

void RefusedResponse::backendEnded() {
  session_.end(Outcome::finish(Side::kBackend, Cause::kRefused));
}

void RefusedResponse::onTimeout() {
  session_.end(Outcome::finish(Side::kBackend, Cause::kTimeout));
}

}  // namespace wsedge::proxy
