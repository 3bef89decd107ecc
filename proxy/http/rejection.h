// Why a request was refused, and the HTTP answer for each reason.
#pragma once

#include <cstdint>
#include <string_view>

namespace wsedge::http {

enum class Rejection : std::uint8_t {
  kNone,
  kBadRequestLine,
  kRequestLineTooLong,
  kFieldsTooLarge,
  kTooManyFields,
  kBareLf,
  kBareCr,
  kObsFold,
  kBadFieldName,
  kBadFieldValue,
  kMethodNotAllowed,
  kHttpVersion,             // HTTP/1.0: an upgrade needs 1.1
  kHttpVersionUnsupported,  // HTTP/2 and later on this port
  kBadTarget,
  kMissingHost,
  kDuplicateHost,
  kHasBody,
  kTransferEncoding,
  kNotWebSocketUpgrade,   // Upgrade lacks the websocket token
  kConnectionNotUpgrade,  // Connection lacks the upgrade token
  kUnsupportedWsVersion,  // Sec-WebSocket-Version missing or not 13
  kDuplicateWsVersion,
  kBadWsKey,                       // missing, duplicated, or not 16 bytes of base64
  kBadExtensions,                  // Sec-WebSocket-Extensions does not parse
  kBadProtocols,                   // Sec-WebSocket-Protocol is not a list of tokens
  kConnectionNamesHandshakeField,  // Connection names Host or a Sec-WebSocket-* field
  kBadHost,                        // Host is not a name or an IP literal, with an optional port
  kBadPath,                        // the path cannot be normalised (see target.h)
  kBadFraming,                     // a plain request's body framing is refused (message_body.h)
  kUnknownCoding,                  // a transfer coding other than chunked
  kConnectionNamesFramingField,    // a plain request's Connection names Content-Length, TE or Host
  kExpectationFailed,              // an Expect other than 100-continue
  kLast = kExpectationFailed,
};

struct RejectionInfo {
  int status;
  std::string_view detail;       // one line for the response body and the log
  std::string_view extraFields;  // complete "Name: value\r\n" lines, or empty
};

const RejectionInfo& describe(Rejection r);

}  // namespace wsedge::http
