// The server's answer to an upgrade request (RFC 6455 §4.2.2, §4.1 client
// requirements). A 101 is accepted only if it completes exactly the
// handshake that was offered; any other status is an ordinary HTTP response,
// to be relayed and never tunnelled.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "proxy/http/extensions.h"
#include "proxy/http/head_parser.h"

namespace wsedge::http {

/// What the client side sent: the 101 is checked against it.
struct UpgradeOffer {
  std::string_view key;
  std::span<const std::string_view> protocols;
  std::span<const Extension> extensions;
};

enum class ResponseVerdict : std::uint8_t {
  kAccepted,             // a valid 101: switch to WebSocket frames
  kNotUpgrade,           // a final non-101 response: relay it, then close
  kMalformed,            // not an HTTP/1.1 response head
  kBadUpgrade,           // 101 without Upgrade: websocket
  kBadConnection,        // 101 without Connection: upgrade
  kBadAccept,            // Sec-WebSocket-Accept missing or wrong
  kProtocolNotOffered,   // a subprotocol the client did not offer, or several
  kExtensionNotOffered,  // an extension the client did not offer, or bad parameters
};

std::string_view describe(ResponseVerdict v);

class UpgradeResponseParser {
 public:
  enum class State : std::uint8_t { kIncomplete, kComplete, kError };

  explicit UpgradeResponseParser(HeadLimits limits = {}) : limits_(limits), head_(limits) {}

  /// Consumes bytes up to the end of the head; body or frames stay
  /// unconsumed. Interim 1xx answers other than 101 are skipped.
  std::size_t feed(std::string_view in);
  State state() const { return state_; }

  // Valid once complete.
  int status() const { return status_; }
  std::string_view reason() const { return reason_; }
  /// The status line says HTTP/1.1 (else 1.0).
  bool http11() const { return http11_; }
  /// Checks a complete head against the offer.
  ResponseVerdict verify(const UpgradeOffer& offer);
  /// After kAccepted: the chosen subprotocol (may be empty) and extensions.
  std::string_view protocol() const { return protocol_; }
  const std::vector<Extension>& extensions() const { return extensions_; }
  const HeadParser& head() const { return head_; }

 private:
  bool parseStatusLine();
  ResponseVerdict verifyUpgrade(const UpgradeOffer& offer);

  static constexpr int kMaxInterim = 8;

  HeadLimits limits_;
  HeadParser head_;
  State state_ = State::kIncomplete;
  int interim_ = 0;
  int status_ = 0;
  bool http11_ = true;
  std::string_view reason_;
  std::string_view protocol_;
  std::vector<Extension> extensions_;
};

}  // namespace wsedge::http
