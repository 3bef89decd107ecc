#include "proxy/http/forwarding.h"

#include <charconv>

namespace wsedge::http {
namespace {

constexpr std::string_view kHopByHop[] = {
    "Connection", "Keep-Alive",         "Proxy-Connection",   "TE", "Trailer", "Transfer-Encoding",
    "Upgrade",    "Proxy-Authenticate", "Proxy-Authorization"};

void appendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

// Copies the end-to-end fields, skipping hop-by-hop ones and `skip` too.
template <class Skip>
void copyEndToEnd(std::string& out, const HeadParser& head, Skip&& skip) {
  for (std::size_t i = 0; i < head.fieldCount(); ++i) {
    const Field f = head.field(i);
    if (isHopByHop(f.name, head) || skip(f.name)) continue;
    appendField(out, f.name, f.value);
  }
}

}  // namespace

bool isHopByHop(std::string_view name, const HeadParser& head) {
  for (std::string_view h : kHopByHop) {
    if (equalsIgnoreCase(name, h)) return true;
  }
  for (std::size_t i = 0; i < head.fieldCount(); ++i) {
    const Field f = head.field(i);
    if (equalsIgnoreCase(f.name, "Connection") && listContainsToken(f.value, name)) return true;
  }
  return false;
}

void writeBackendRequest(std::string& out, const RequestParser& request, const ForwardInfo& info) {
  const HeadParser& head = request.head();
  out.append(request.method())
      .append(" ")
      .append(info.path.empty() ? request.path() : info.path)
      .append(request.query())
      .append(request.http11() ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
  std::string forwardedFor;
  for (std::size_t i = 0; i < head.fieldCount() && info.trustedPeer; ++i) {
    const Field f = head.field(i);
    if (equalsIgnoreCase(f.name, "X-Forwarded-For")) {
      forwardedFor.append(forwardedFor.empty() ? "" : ", ").append(f.value);
    }
  }
  copyEndToEnd(out, head, [&](std::string_view name) {
    for (const auto& [set, value] : info.setHeaders) {
      if (equalsIgnoreCase(name, set)) return true;
    }
    for (const std::string& removed : info.removeHeaders) {
      if (equalsIgnoreCase(name, removed)) return true;
    }
    return name.find('_') != std::string_view::npos || equalsIgnoreCase(name, "X-Forwarded-For") ||
           equalsIgnoreCase(name, "X-Forwarded-Proto") ||
           equalsIgnoreCase(name, "X-Forwarded-Host") || equalsIgnoreCase(name, "Forwarded") ||
           equalsIgnoreCase(name, "X-Real-IP") || equalsIgnoreCase(name, "Expect") ||
           equalsIgnoreCase(name, "Content-Length");
  });
  const BodyFraming& body = request.framing();
  if (request.upgrade()) {
    out.append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
  } else if (body.kind == BodyFraming::Kind::kChunked) {
    // Relayed byte for byte: the framing goes with it.
    out.append("Transfer-Encoding: chunked\r\n");
  } else if (body.kind == BodyFraming::Kind::kLength || head.count("Content-Length") != 0) {
    // The length as the proxy read it, once, in plain digits: never a
    // spelling the backend might read another way.
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, body.length).ptr;
    appendField(out, "Content-Length", std::string_view(digits, end - digits));
  }
  for (const auto& [name, value] : info.setHeaders) appendField(out, name, value);
  forwardedFor.append(forwardedFor.empty() ? "" : ", ").append(info.clientIp);
  appendField(out, "X-Forwarded-For", forwardedFor);
  appendField(out, "X-Forwarded-Proto", info.proto);
  appendField(out, "X-Forwarded-Host", request.host());
  out.append("\r\n");
}

void writeClientUpgrade(std::string& out, const UpgradeResponseParser& response,
                        std::string_view extraFields, std::string_view dropField) {
  out.append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
  copyEndToEnd(out, response.head(), [&](std::string_view name) {
    return !dropField.empty() && equalsIgnoreCase(name, dropField);
  });
  out.append(extraFields);
  out.append("\r\n");
}

void writeRelayedResponseHead(std::string& out, const UpgradeResponseParser& response,
                              const RelayedHead& how) {
  char code[4];
  std::to_chars(code, code + 3, response.status());
  code[3] = 0;
  out.append("HTTP/1.1 ").append(code, 3).append(" ").append(response.reason()).append("\r\n");
  const HeadParser& head = response.head();
  for (std::size_t i = 0; i < head.fieldCount(); ++i) {
    const Field f = head.field(i);
    // The body is relayed byte for byte, so its framing fields stay, even
    // when Connection names them.
    const bool framing =
        equalsIgnoreCase(f.name, "Transfer-Encoding") || equalsIgnoreCase(f.name, "Content-Length");
    if (!framing && isHopByHop(f.name, head)) continue;
    appendField(out, f.name, f.value);
  }
  out.append(how.extraFields);
  if (!how.persistent) {
    out.append("Connection: close\r\n");
  } else if (how.http10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

}  // namespace wsedge::http
