#include "proxy/http/request_parser.h"

#include <charconv>

#include "proxy/http/accept_key.h"

namespace wsedge::http {

Rejection rejectionFor(HeadError e) {
  switch (e) {
    case HeadError::kNone:
      return Rejection::kNone;
    case HeadError::kStartLineTooLong:
      return Rejection::kRequestLineTooLong;
    case HeadError::kFieldsTooLarge:
      return Rejection::kFieldsTooLarge;
    case HeadError::kTooManyFields:
      return Rejection::kTooManyFields;
    case HeadError::kBareLf:
      return Rejection::kBareLf;
    case HeadError::kBareCr:
      return Rejection::kBareCr;
    case HeadError::kObsFold:
      return Rejection::kObsFold;
    case HeadError::kBadFieldName:
      return Rejection::kBadFieldName;
    case HeadError::kBadFieldValue:
      return Rejection::kBadFieldValue;
  }
  return Rejection::kBadRequestLine;
}

std::size_t UpgradeRequestParser::feed(std::string_view in) {
  if (state_ != State::kIncomplete) return 0;
  const std::size_t used = head_.feed(in);
  if (head_.state() == HeadParser::State::kError) {
    reject(rejectionFor(head_.error()));
  } else if (head_.state() == HeadParser::State::kComplete) {
    const Rejection r = validate();
    if (r == Rejection::kNone) {
      state_ = State::kComplete;
    } else {
      reject(r);
    }
  }
  return used;
}

Rejection UpgradeRequestParser::parseRequestLine() {
  // method SP request-target SP HTTP-version, single spaces (RFC 9112 §3).
  const std::string_view line = head_.startLine();
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return Rejection::kBadRequestLine;
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Rejection::kBadRequestLine;
  }
  method_ = line.substr(0, sp1);
  target_ = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!isToken(method_) || target_.empty()) return Rejection::kBadRequestLine;
  for (char c : target_) {
    // Visible ASCII only; anything else has no place in a request target.
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) {
      return Rejection::kBadRequestLine;
    }
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return Rejection::kBadRequestLine;
  }
  if (method_ != "GET") return Rejection::kMethodNotAllowed;
  if (version[5] != '1') return Rejection::kHttpVersionUnsupported;
  if (version != "HTTP/1.1") return Rejection::kHttpVersion;
  if (target_.front() != '/') return Rejection::kBadTarget;
  return Rejection::kNone;
}

Rejection UpgradeRequestParser::validate() {
  if (Rejection r = parseRequestLine(); r != Rejection::kNone) return r;

  const std::size_t hosts = head_.count("Host");
  if (hosts == 0) return Rejection::kMissingHost;
  if (hosts > 1) return Rejection::kDuplicateHost;
  host_ = *head_.find("Host");
  if (host_.empty()) return Rejection::kMissingHost;

  if (head_.count("Transfer-Encoding") != 0) return Rejection::kTransferEncoding;
  for (std::size_t i = 0; i < head_.fieldCount(); ++i) {
    const Field f = head_.field(i);
    if (!equalsIgnoreCase(f.name, "Content-Length")) continue;
    unsigned long long len = 0;
    auto [end, ec] = std::from_chars(f.value.data(), f.value.data() + f.value.size(), len);
    if (ec != std::errc{} || end != f.value.data() + f.value.size() || len != 0) {
      return Rejection::kHasBody;
    }
  }

  // Upgrade and Connection may each be split over several lines.
  bool upgrade = false;
  bool connection = false;
  for (std::size_t i = 0; i < head_.fieldCount(); ++i) {
    const Field f = head_.field(i);
    if (equalsIgnoreCase(f.name, "Upgrade"))
      upgrade = upgrade || listContainsToken(f.value, "websocket");
    if (equalsIgnoreCase(f.name, "Connection")) {
      connection = connection || listContainsToken(f.value, "upgrade");
    }
  }
  if (!upgrade) return Rejection::kNotWebSocketUpgrade;
  if (!connection) return Rejection::kConnectionNotUpgrade;

  const std::size_t versions = head_.count("Sec-WebSocket-Version");
  if (versions > 1) return Rejection::kDuplicateWsVersion;
  if (versions == 0 || *head_.find("Sec-WebSocket-Version") != "13") {
    return Rejection::kUnsupportedWsVersion;
  }

  if (head_.count("Sec-WebSocket-Key") != 1) return Rejection::kBadWsKey;
  key_ = *head_.find("Sec-WebSocket-Key");
  if (!isValidClientKey(key_)) return Rejection::kBadWsKey;

  for (std::size_t i = 0; i < head_.fieldCount(); ++i) {
    const Field f = head_.field(i);
    if (equalsIgnoreCase(f.name, "Sec-WebSocket-Protocol")) {
      bool ok = true;
      forEachListElement(f.value, [&](std::string_view p) {
        ok = ok && isToken(p);
        protocols_.push_back(p);
      });
      if (!ok) return Rejection::kBadProtocols;
    } else if (equalsIgnoreCase(f.name, "Sec-WebSocket-Extensions")) {
      if (!parseExtensions(f.value, extensions_)) return Rejection::kBadExtensions;
    }
  }
  return Rejection::kNone;
}

}  // namespace wsedge::http
