#include "proxy/http/handshake_writer.h"

#include <charconv>

namespace wsedge::http {
namespace {

void appendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

void appendNumber(std::string& out, std::size_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

}  // namespace

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void writeUpgradeRequest(std::string& out, const UpgradeRequestSpec& spec) {
  out.append("GET ").append(spec.target).append(" HTTP/1.1\r\n");
  appendField(out, "Host", spec.host);
  out.append("Upgrade: websocket\r\nConnection: Upgrade\r\n");
  appendField(out, "Sec-WebSocket-Key", spec.key);
  out.append("Sec-WebSocket-Version: 13\r\n");
  if (!spec.protocols.empty()) {
    out.append("Sec-WebSocket-Protocol: ");
    for (std::size_t i = 0; i < spec.protocols.size(); ++i) {
      if (i) out.append(", ");
      out.append(spec.protocols[i]);
    }
    out.append("\r\n");
  }
  if (!spec.extensions.empty()) appendField(out, "Sec-WebSocket-Extensions", spec.extensions);
  out.append(spec.extraFields).append("\r\n");
}

void writeSwitchingProtocols(std::string& out, std::string_view accept, std::string_view protocol,
                             std::string_view extensions, std::string_view extraFields) {
  out.append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
  appendField(out, "Sec-WebSocket-Accept", accept);
  if (!protocol.empty()) appendField(out, "Sec-WebSocket-Protocol", protocol);
  if (!extensions.empty()) appendField(out, "Sec-WebSocket-Extensions", extensions);
  out.append(extraFields).append("\r\n");
}

void writeErrorResponse(std::string& out, int status, std::string_view detail,
                        std::string_view extraFields) {
  out.append("HTTP/1.1 ");
  appendNumber(out, static_cast<std::size_t>(status));
  out.append(" ").append(reasonPhrase(status)).append("\r\n");
  out.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  appendNumber(out, detail.size() + 1);
  out.append("\r\n").append(extraFields);
  if (extraFields.find("Connection:") == std::string_view::npos)
    out.append("Connection: close\r\n");
  out.append("\r\n").append(detail).append("\n");
}

void writeRejection(std::string& out, Rejection r) {
  const RejectionInfo& info = describe(r);
  writeErrorResponse(out, info.status, info.detail, info.extraFields);
}

}  // namespace wsedge::http
