// Rewriting handshakes as they cross the proxy: the client's upgrade request
// toward the backend, and the backend's answer toward the client. End-to-end
// fields pass unchanged; hop-by-hop ones (RFC 9110 §7.6.1, and any field the
// Connection header names) are dropped or replaced.
#pragma once

#include <string>
#include <string_view>

#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"

namespace wsedge::http {

struct ForwardInfo {
  std::string_view clientIp;  // appended to X-Forwarded-For
  std::string_view proto;     // X-Forwarded-Proto: "http" or "https"
};

/// True for hop-by-hop fields of this message: the fixed list and every
/// token of its Connection fields.
bool isHopByHop(std::string_view name, const HeadParser& head);

/// The upgrade request for the backend: same target, Host, key, version,
/// subprotocols, extensions, Origin, cookies and other end-to-end fields;
/// fresh Upgrade/Connection; X-Forwarded-For (appended), -Proto and -Host
/// (replacing whatever the client sent).
void writeBackendRequest(std::string& out, const UpgradeRequestParser& request,
                         const ForwardInfo& info);

/// The backend's verified 101, for the client.
void writeClientUpgrade(std::string& out, const UpgradeResponseParser& response);

/// The head of a non-101 answer, for the client, with Connection: close.
/// The body follows as the backend sends it.
void writeRelayedResponseHead(std::string& out, const UpgradeResponseParser& response);

}  // namespace wsedge::http
