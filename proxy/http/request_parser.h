// The client's opening handshake (RFC 6455 §4.2.1), parsed incrementally and
// validated exactly. Bytes after the request (frames a client pipelines
// before the 101) are not consumed: the caller keeps them until the backend
// has accepted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/extensions.h"
#include "proxy/http/head_parser.h"
#include "proxy/http/rejection.h"

namespace wsedge::http {

class UpgradeRequestParser {
 public:
  enum class State : std::uint8_t { kIncomplete, kComplete, kRejected };

  explicit UpgradeRequestParser(HeadLimits limits = {}) : head_(limits) {}

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
  Rejection parseRequestLine();

  HeadParser head_;
  State state_ = State::kIncomplete;
  Rejection rejection_ = Rejection::kNone;
  std::string_view method_, target_, host_, key_;
  std::string path_;
  std::vector<std::string_view> protocols_;
  std::vector<Extension> extensions_;
};

/// Maps a head-level error to the rejection reported for it.
Rejection rejectionFor(HeadError e);

}  // namespace wsedge::http
