// Close status codes (RFC 6455 §7.4 and the IANA registry).
#pragma once

#include <cstdint>
#include <string_view>

namespace wsedge::ws {

enum class CloseCode : std::uint16_t {
  kNormal = 1000,
  kGoingAway = 1001,
  kProtocolError = 1002,
  kUnsupportedData = 1003,
  kNoStatus = 1005,  // never on the wire: the close frame had no payload
  kAbnormal = 1006,  // never on the wire: the connection dropped without a close
  kInvalidPayload = 1007,
  kPolicyViolation = 1008,
  kMessageTooBig = 1009,
  kMandatoryExtension = 1010,
  kInternalError = 1011,
  kServiceRestart = 1012,
  kTryAgainLater = 1013,
  kBadGateway = 1014,
};

/// Whether a peer may send this code in a close frame: 1000-1003,
/// 1007-1014 and the application ranges 3000-4999.
constexpr bool isValidWireCloseCode(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

constexpr std::uint16_t toWire(CloseCode code) {
  return static_cast<std::uint16_t>(code);
}

}  // namespace wsedge::ws
