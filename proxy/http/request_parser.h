// A client's request head, parsed incrementally and validated exactly: an
// opening handshake (RFC 6455 §4.2.1) when it asks for Upgrade: websocket,
// otherwise a plain HTTP/1.x request whose body framing is decided strictly
// (RFC 9112 §6, see message_body.h). Bytes after the head (a body, frames a
// client pipelines before the 101, the next request) are not consumed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/extensions.h"
#include "proxy/http/head_parser.h"
#include "proxy/http/message_body.h"
#include "proxy/http/rejection.h"

namespace wsedge::http {

class RequestParser {
 public:
  enum class State : std::uint8_t { kIncomplete, kComplete, kRejected };

  explicit RequestParser(HeadLimits limits = {}) : head_(limits) {}

  /// Returns the number of bytes consumed; anything after the request is
  /// left unconsumed. Once complete or rejected, consumes nothing more.
  /// (On a rejection the count depends on how the input was split, since
  /// earlier pieces were consumed by earlier calls; nothing follows a
  /// rejection but an error response, so the count does not matter then.)
  std::size_t feed(std::string_view in);

  State state() const { return state_; }
  Rejection rejection() const { return rejection_; }

  // Valid once state() is kComplete.
  std::string_view method() const { return method_; }
  std::string_view target() const { return target_; }  // path and query, as sent
  /// The path, normalised (see target.h): what routing and the backend see.
  std::string_view path() const { return path_; }
  /// The query with its '?', untouched; empty if none.
  std::string_view query() const {
    const std::size_t q = target_.find('?');
    return q == std::string_view::npos ? std::string_view{} : target_.substr(q);
  }
  std::string_view host() const { return host_; }
  /// It asks for a WebSocket; everything below about the handshake
  /// (key, protocols, extensions) is valid only then.
  bool upgrade() const { return upgrade_; }
  /// HTTP/1.1 (or else 1.0).
  bool http11() const { return http11_; }
  /// A plain request: how its body is framed (never kInvalid once complete).
  const BodyFraming& framing() const { return framing_; }
  /// The client wants the connection kept after the response (HTTP/1.1's
  /// default unless Connection: close; HTTP/1.0 only with keep-alive).
  bool keepAlive() const { return keepAlive_; }
  /// Expect: 100-continue on a request with a body.
  bool expectsContinue() const { return expectsContinue_; }
  /// GET, HEAD, OPTIONS, TRACE, PUT or DELETE (RFC 9110 §9.2.2).
  bool idempotent() const;
  /// Why a plain request's framing was refused, once rejected for it.
  std::string_view framingReason() const { return framing_.reason; }
  std::string_view key() const { return key_; }
  /// Offered subprotocols and extensions, from every header line that carries them.
  const std::vector<std::string_view>& protocols() const { return protocols_; }
  const std::vector<Extension>& extensions() const { return extensions_; }
  const HeadParser& head() const { return head_; }

 private:
  void reject(Rejection r) {
    rejection_ = r;
    state_ = State::kRejected;
  }
  Rejection validate();
  Rejection validateUpgrade();
  Rejection validatePlain();
  Rejection parseRequestLine();

  HeadParser head_;
  State state_ = State::kIncomplete;
  Rejection rejection_ = Rejection::kNone;
  std::string_view method_, target_, host_, key_;
  std::string path_;
  bool upgrade_ = false;
  bool http11_ = true;
  bool keepAlive_ = true;
  bool expectsContinue_ = false;
  BodyFraming framing_;
  std::vector<std::string_view> protocols_;
  std::vector<Extension> extensions_;
};

/// Maps a head-level error to the rejection reported for it.
Rejection rejectionFor(HeadError e);

}  // namespace wsedge::http
