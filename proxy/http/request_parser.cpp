#include "proxy/http/request_parser.h"

#include <cctype>
#include <charconv>
#include <optional>

#include "proxy/http/accept_key.h"
#include "proxy/http/target.h"

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

std::size_t RequestParser::feed(std::string_view in) {
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

Rejection RequestParser::parseRequestLine() {
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
  // HTTP/2's connection preface ("PRI * HTTP/2.0") and any later version:
  // the version is what is wrong, whatever the method.
  if (version[5] != '1') return Rejection::kHttpVersionUnsupported;
  if (version[7] != '0' && version[7] != '1') return Rejection::kHttpVersionUnsupported;
  http11_ = version[7] == '1';
  if (target_.front() != '/') return Rejection::kBadTarget;
  std::optional<std::string> path = normalizePath(target_.substr(0, target_.find('?')));
  if (!path) return Rejection::kBadPath;
  path_ = std::move(*path);
  return Rejection::kNone;
}

namespace {

// Host = uri-host [ ":" port ] (RFC 9110 §7.2): a reg-name or an IP literal.
bool isValidHost(std::string_view host) {
  std::string_view name = host;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : host.substr(1, close - 1)) {
      const bool ok = std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
      if (!ok) return false;
    }
    name = {};
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    if (name.empty()) return false;
  }
  for (char c : name) {
    // unreserved / pct-encoded / sub-delims
    const auto u = static_cast<unsigned char>(c);
    const bool ok =
        std::isalnum(u) || std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  if (port.size() > 5) return false;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Connection may name hop-by-hop fields, never those the handshake needs:
// stripping them would change the request that reaches the backend.
bool namesHandshakeField(std::string_view connection) {
  bool bad = false;
  forEachListElement(connection, [&](std::string_view name) {
    for (std::string_view f : {"Host", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                               "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"}) {
      bad = bad || equalsIgnoreCase(name, f);
    }
  });
  return bad;
}

}  // namespace

bool RequestParser::idempotent() const {
  for (std::string_view m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    if (method_ == m) return true;
  }
  return false;
}

Rejection RequestParser::validate() {
  if (Rejection r = parseRequestLine(); r != Rejection::kNone) return r;

  const std::size_t hosts = head_.count("Host");
  if (hosts > 1) return Rejection::kDuplicateHost;
  // HTTP/1.0 may leave Host out; 1.1 may not (RFC 9112 §3.2).
  if (hosts == 0 && http11_) return Rejection::kMissingHost;
  if (hosts == 1) {
    host_ = *head_.find("Host");
    if (host_.empty()) return Rejection::kMissingHost;
    if (!isValidHost(host_)) return Rejection::kBadHost;
  }
  for (std::size_t i = 0; i < head_.fieldCount() && !upgrade_; ++i) {
    const Field f = head_.field(i);
    upgrade_ = equalsIgnoreCase(f.name, "Upgrade") && listContainsToken(f.value, "websocket");
  }
  return upgrade_ ? validateUpgrade() : validatePlain();
}

Rejection RequestParser::validatePlain() {
  framing_ = requestFraming(head_);
  if (framing_.kind == BodyFraming::Kind::kInvalid) {
    return framing_.status == 501 ? Rejection::kUnknownCoding : Rejection::kBadFraming;
  }
  // HTTP/1.0 has no chunked coding: a 1.0 message that claims it is faulty
  // (RFC 9112 §6.1).
  if (!http11_ && framing_.kind == BodyFraming::Kind::kChunked) {
    framing_.reason = "Transfer-Encoding is not HTTP/1.0";
    return Rejection::kBadFraming;
  }
  bool close = false;
  bool keepAlive = false;
  for (std::size_t i = 0; i < head_.fieldCount(); ++i) {
    const Field f = head_.field(i);
    if (equalsIgnoreCase(f.name, "Connection")) {
      close = close || listContainsToken(f.value, "close");
      keepAlive = keepAlive || listContainsToken(f.value, "keep-alive");
      // Naming them would strip them from what the backend sees, and the
      // two would read the body differently.
      for (std::string_view framing : {"Content-Length", "Transfer-Encoding", "Host"}) {
        if (listContainsToken(f.value, framing)) return Rejection::kConnectionNamesFramingField;
      }
    } else if (equalsIgnoreCase(f.name, "Expect")) {
      // The only expectation there is (RFC 9110 §10.1.1); the proxy answers
      // it itself, so it never reaches the backend.
      if (!equalsIgnoreCase(f.value, "100-continue")) return Rejection::kExpectationFailed;
      expectsContinue_ = framing_.kind != BodyFraming::Kind::kNone && http11_;
    }
  }
  keepAlive_ = !close && (http11_ || keepAlive);
  return Rejection::kNone;
}

Rejection RequestParser::validateUpgrade() {
  if (method_ != "GET") return Rejection::kMethodNotAllowed;
  if (!http11_) return Rejection::kHttpVersion;
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
  bool connection = false;
  for (std::size_t i = 0; i < head_.fieldCount(); ++i) {
    const Field f = head_.field(i);
    if (equalsIgnoreCase(f.name, "Connection")) {
      connection = connection || listContainsToken(f.value, "upgrade");
      if (namesHandshakeField(f.value)) return Rejection::kConnectionNamesHandshakeField;
    }
  }
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
