// Rewriting handshakes as they cross the proxy: the client's upgrade request
// toward the backend, and the backend's answer toward the client. End-to-end
// fields pass unchanged; hop-by-hop ones (RFC 9110 §7.6.1, and any field the
// Connection header names) are dropped or replaced.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"

namespace wsedge::http {

struct ForwardInfo {
  std::string_view clientIp;  // the peer's address: X-Forwarded-For
  std::string_view proto;     // X-Forwarded-Proto: "http" or "https"
  /// The peer is a proxy the configuration trusts (trusted_proxies): its
  /// X-Forwarded-For is kept and the peer appended; otherwise the client's
  /// claim is dropped and X-Forwarded-For is the peer alone.
  bool trustedPeer = false;
  /// The path for the backend (a route's rewrite_prefix applied); empty:
  /// the request's normalised path.
  std::string_view path;
  /// The route's header edits: fields set (replacing the client's) and
  /// fields removed.
  std::span<const std::pair<std::string, std::string>> setHeaders;
  std::span<const std::string> removeHeaders;
};

/// True for hop-by-hop fields of this message: the fixed list and every
/// token of its Connection fields.
bool isHopByHop(std::string_view name, const HeadParser& head);

/// The request for the backend: the normalised path and the query, the same
/// method, Host and other end-to-end fields (for an upgrade: key, version,
/// subprotocols, extensions, fresh Upgrade/Connection; for a plain request:
/// its Content-Length, or Transfer-Encoding: chunked, and no Expect, which
/// the proxy answers itself); X-Forwarded-For (see ForwardInfo), -Proto and
/// -Host replacing whatever the client sent. What a client could spoof is
/// never passed on: Forwarded, X-Real-IP, and any field name with an
/// underscore (X_Forwarded_For), as nginx drops them.
void writeBackendRequest(std::string& out, const RequestParser& request, const ForwardInfo& info);

/// The backend's verified 101, for the client.
/// extraFields: complete "Name: value\r\n" lines of the proxy's own;
/// dropField: a field of the backend's that stops here (Wsedge-Subscribe).
void writeClientUpgrade(std::string& out, const UpgradeResponseParser& response,
                        std::string_view extraFields = {}, std::string_view dropField = {});

/// The head of a non-101 answer, for the client. The body follows as the
/// backend sends it, so its framing fields stay. persistent: the client's
/// connection stays open for another request (else Connection: close);
/// http10: the client spoke HTTP/1.0 (it is told keep-alive explicitly).
/// extraFields: complete "Name: value\r\n" lines of the proxy's own.
struct RelayedHead {
  bool persistent = false;
  bool http10 = false;
  std::string_view extraFields;
};
void writeRelayedResponseHead(std::string& out, const UpgradeResponseParser& response,
                              const RelayedHead& how = {});

}  // namespace wsedge::http
