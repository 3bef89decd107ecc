// Sec-WebSocket-Key and Sec-WebSocket-Accept (RFC 6455 §4.2.2): SHA-1 and
// base64 come from BoringSSL.
#pragma once

#include <string>
#include <string_view>

namespace wsedge::http {

/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): 28 characters.
std::string computeAcceptKey(std::string_view key);

/// True if key is base64 that decodes to exactly 16 bytes.
bool isValidClientKey(std::string_view key);

/// A fresh key: 16 random bytes from the CSPRNG, base64-encoded.
std::string generateClientKey();

}  // namespace wsedge::http
