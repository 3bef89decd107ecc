// Writers for the handshake: the client's upgrade request, the server's 101,
// and error responses.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "proxy/http/rejection.h"

namespace wsedge::http {

struct UpgradeRequestSpec {
  std::string_view target = "/";
  std::string_view host;
  std::string_view key;  // see generateClientKey()
  std::span<const std::string_view> protocols;
  std::string_view extensions;   // the Sec-WebSocket-Extensions value, or empty
  std::string_view extraFields;  // complete "Name: value\r\n" lines
};

void writeUpgradeRequest(std::string& out, const UpgradeRequestSpec& spec);

/// HTTP/1.1 101 with the accept key, and the subprotocol and extensions if
/// not empty.
void writeSwitchingProtocols(std::string& out, std::string_view accept, std::string_view protocol,
                             std::string_view extensions, std::string_view extraFields = {});

/// A complete response with a plain-text body (detail plus a newline) and
/// Connection: close, unless extraFields carries its own Connection line.
void writeErrorResponse(std::string& out, int status, std::string_view detail,
                        std::string_view extraFields = {});

/// The response for a refused upgrade request.
void writeRejection(std::string& out, Rejection r);

/// The standard reason phrase for a status code ("Bad Request").
std::string_view reasonPhrase(int status);

}  // namespace wsedge::http
