#include "proxy/http/rejection.h"

#include <array>

namespace wsedge::http {
namespace {

constexpr std::string_view kUpgradeFields = "Upgrade: websocket\r\nConnection: Upgrade, close\r\n";

// Indexed by Rejection; the order must match the enum.
constexpr std::array<RejectionInfo, 32> kTable{{
    {0, "", ""},
    {400, "malformed request line", ""},
    {400, "request line too long", ""},
    {431, "request header fields too large", ""},
    {431, "too many request header fields", ""},
    {400, "line ends in a bare LF", ""},
    {400, "bare CR in the request", ""},
    {400, "obsolete line folding is not allowed", ""},
    {400, "malformed header field name", ""},
    {400, "control character in a header field value", ""},
    {405, "a WebSocket upgrade must use GET", "Allow: GET\r\n"},
    {400, "a WebSocket upgrade needs HTTP/1.1", ""},
    {505, "only HTTP/1.1 is served here", ""},
    {400, "request target must be an absolute path", ""},
    {400, "missing Host header", ""},
    {400, "duplicate Host header", ""},
    {400, "a WebSocket upgrade must not have a body", ""},
    {400, "Transfer-Encoding is not allowed on a WebSocket upgrade", ""},
    {426, "this endpoint requires a WebSocket upgrade (Upgrade: websocket)", kUpgradeFields},
    {426, "Connection header must contain the upgrade token", kUpgradeFields},
    {426, "unsupported WebSocket version; use 13", "Sec-WebSocket-Version: 13\r\n"},
    {400, "duplicate Sec-WebSocket-Version header", ""},
    {400, "Sec-WebSocket-Key must be one base64 value of 16 bytes", ""},
    {400, "malformed Sec-WebSocket-Extensions header", ""},
    {400, "malformed Sec-WebSocket-Protocol header", ""},
    {400, "the Connection header must not name Host or a Sec-WebSocket header", ""},
    {400, "malformed Host header", ""},
    {400, "the request path is refused (an encoded slash, backslash or NUL, or .. above the root)",
     ""},
    {400, "the request's body framing is refused (RFC 9112 section 6)", ""},
    {501, "the only transfer coding taken is chunked", ""},
    {400, "the Connection header must not name Host, Content-Length or Transfer-Encoding", ""},
    {417, "the only expectation taken is 100-continue", ""},
}};

static_assert(kTable.size() == static_cast<std::size_t>(Rejection::kLast) + 1,
              "one row per Rejection");

}  // namespace

const RejectionInfo& describe(Rejection r) {
  return kTable[static_cast<std::size_t>(r)];
}

}  // namespace wsedge::http
