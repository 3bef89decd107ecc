#include "proxy/session/http_exchange.h"

#include <algorithm>
#include <string>

#include "proxy/http/forwarding.h"
#include "proxy/log.h"
#include "proxy/session/session.h"

namespace wsedge::proxy {
namespace {

std::string_view text(std::span<const std::byte> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

}  // namespace

HttpExchange::HttpExchange(Session& session, const http::RequestParser& request,
                           bool lastOnConnection)
    : session_(session),
      requestBody_(request.framing()),
      head_(request.method() == "HEAD"),
      http10_(!request.http11()),
      keepAlive_(request.keepAlive() && !lastOnConnection),
      expectsContinue_(request.expectsContinue()) {
  requestBody_.reason = {};  // a view into the parser, which goes
  if (requestBody_.kind == http::BodyFraming::Kind::kChunked) {
    http::ChunkedReader::Limits limits;
    limits.maxData = session.route().limits.maxRequestBody;
    requestChunks_.emplace(limits);
  }
  requestLeft_ = requestBody_.length;
  requestDone_ = requestBody_.kind == http::BodyFraming::Kind::kNone;
  progress();
}

std::size_t HttpExchange::maxBuffered() const {
  return session_.route().limits.maxBuffered;
}

void HttpExchange::progress() {
  lastProgressMs_ = session_.now();
}

void HttpExchange::backendReady() {
  if (requestDone_) return;
  // The proxy asked the backend nothing about it: the body is wanted.
  if (expectsContinue_) session_.client().send("HTTP/1.1 100 Continue\r\n\r\n");
  session_.client().startBody();
}

void HttpExchange::fromClient(std::span<std::byte> data) {
  std::size_t n = data.size();
  if (requestChunks_) {
    n = requestChunks_->feed(text(data));
    if (requestChunks_->error() == http::ChunkedReader::Error::kTooLarge) {
      return fail(Side::kClient, Cause::kRefused, 413,
                  "the request body is larger than max_request_body");
    }
    if (requestChunks_->failed()) {
      return fail(Side::kClient, Cause::kProtocolError, 400, "malformed chunked request body");
    }
  } else {
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, requestLeft_));
    requestLeft_ -= n;
  }
  if (n > 0) {
    session_.backend().send(data.first(n));
    bytesFromClient_ += n;
    progress();
  }
  requestDone_ = requestChunks_ ? requestChunks_->complete() : requestLeft_ == 0;
  if (!requestDone_) return limitFlow(session_.client(), session_.backend(), maxBuffered());
  // What follows is the client's next request: it waits its turn.
  session_.client().bodyDone(data.subspan(n));
  maybeDone();
}

void HttpExchange::responseHead(const http::UpgradeResponseParser& response,
                                const http::BodyFraming& framing, std::span<std::byte> rest) {
  responseBody_ = framing;
  responseBody_.reason = {};
  if (framing.kind == http::BodyFraming::Kind::kChunked) responseChunks_.emplace();
  responseLeft_ = framing.length;
  const bool closeDelimited = framing.kind == http::BodyFraming::Kind::kClose;
  bool backendClose = !response.http11();
  for (std::size_t i = 0; i < response.head().fieldCount(); ++i) {
    const http::Field f = response.head().field(i);
    if (http::equalsIgnoreCase(f.name, "Connection") && http::listContainsToken(f.value, "close")) {
      backendClose = true;
    }
  }
  // A body that ends with the connection ends the client's too; so does a
  // drain, and a request the client said was its last.
  persistent_ = keepAlive_ && !closeDelimited && session_.context().owner.shutdownEndsMs() == 0;
  // An HTTP/1.0 request went as 1.0: the backend may take the connection
  // for one-shot whatever its answer says.
  backendReusable_ = !backendClose && !closeDelimited && !http10_;
  status_ = response.status();
  std::string head;
  http::writeRelayedResponseHead(head, response, {persistent_, http10_, session_.affinityCookie()});
  session_.client().send(head);
  progress();
  if (framing.kind == http::BodyFraming::Kind::kNone) {
    responseDone_ = true;
    // Bytes behind a response without a body are not a response of ours.
    if (!rest.empty()) backendReusable_ = false;
    return maybeDone();
  }
  if (!rest.empty()) fromBackend(rest);
}

void HttpExchange::fromBackend(std::span<std::byte> data) {
  std::size_t n = data.size();
  if (responseChunks_) {
    n = responseChunks_->feed(text(data));
    if (responseChunks_->failed()) {
      WSEDGE_LOG(kWarn, "malformed chunked body from backend %s: the client's response is cut",
                 session_.backend().backend()->name.c_str());
      return fail(Side::kBackend, Cause::kProtocolError, 502,
                  "malformed response from the backend");
    }
  } else if (responseBody_.kind == http::BodyFraming::Kind::kLength) {
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, responseLeft_));
    responseLeft_ -= n;
  }
  if (n > 0) {
    session_.client().send(data.first(n));
    bytesFromBackend_ += n;
    progress();
  }
  if (responseChunks_) {
    responseDone_ = responseChunks_->complete();
  } else if (responseBody_.kind == http::BodyFraming::Kind::kLength) {
    responseDone_ = responseLeft_ == 0;
  }
  if (!responseDone_) return limitFlow(session_.backend(), session_.client(), maxBuffered());
  if (n < data.size()) backendReusable_ = false;  // it sent more than it was asked for
  maybeDone();
}

void HttpExchange::backendEnded(int error) {
  if (responseBody_.kind == http::BodyFraming::Kind::kClose && error == 0) {
    responseDone_ = true;
    backendReusable_ = false;
    return maybeDone();
  }
  fail(Side::kBackend, Cause::kTransportError, 502,
       "the backend closed the connection before the response was complete");
}

void HttpExchange::clientDrained() {
  flowDrained(session_.backend(), session_.client(), maxBuffered());
}

void HttpExchange::backendDrained() {
  if (!requestDone_) flowDrained(session_.client(), session_.backend(), maxBuffered());
}

void HttpExchange::onTimeout() {
  const std::uint64_t timeout = session_.route().limits.responseTimeoutMs;
  const std::uint64_t due = lastProgressMs_ + timeout;
  if (session_.now() < due) return session_.armAt(due);
  if (!responseStarted()) {
    WSEDGE_LOG(kWarn, "backend %s did not answer within response_timeout",
               session_.backend().backend()->name.c_str());
  }
  fail(Side::kBackend, Cause::kTimeout, 504, "the backend did not answer in time");
}

void HttpExchange::fail(Side side, Cause cause, int status, std::string_view detail) {
  if (!responseStarted()) return session_.end(Outcome::reply(side, cause, status, detail));
  // The client has the head: only a cut connection tells it the response
  // is not whole.
  session_.end(Outcome::drop(side, cause));
}

void HttpExchange::maybeDone() {
  if (!responseDone_) return;
  if (!requestDone_) {
    // Answered before the body was read (a 413 of the backend's, say): what
    // is left of it can be in neither connection.
    persistent_ = false;
    backendReusable_ = false;
  }
  session_.exchangeDone(persistent_, backendReusable_);
}

}  // namespace wsedge::proxy
