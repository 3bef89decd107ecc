// Sec-WebSocket-Extensions (RFC 6455 §9.1) and permessage-deflate
// (RFC 7692 §7): enough to know which RSV bits a connection may use.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace wsedge::http {

struct ExtensionParam {
  std::string_view name;
  std::string_view value;  // unquoted; empty when there is no value
  bool hasValue = false;
};

struct Extension {
  std::string_view name;
  std::vector<ExtensionParam> params;
};

/// Parses one header value, appending each extension to out. Returns false
/// if the value is malformed (out may then hold a partial result). A quoted
/// value must unquote to a token; escapes are refused.
bool parseExtensions(std::string_view value, std::vector<Extension>& out);

struct PerMessageDeflate {
  bool serverNoContextTakeover = false;
  bool clientNoContextTakeover = false;
  std::uint8_t serverMaxWindowBits = 15;
  std::uint8_t clientMaxWindowBits = 15;  // in an offer with no value: 15, may be lowered
};

/// Validates permessage-deflate parameters: known names, each at most once,
/// window bits 8-15. In an offer client_max_window_bits may have no value.
std::optional<PerMessageDeflate> parsePerMessageDeflate(const Extension& ext, bool isOffer);

/// The RSV bits that the negotiated extensions define: RSV1 when
/// permessage-deflate was accepted, none otherwise.
std::uint8_t rsvBitsFor(std::span<const Extension> negotiated);

}  // namespace wsedge::http
