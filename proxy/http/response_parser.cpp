#include "proxy/http/response_parser.h"

#include <algorithm>

#include "proxy/http/accept_key.h"

namespace wsedge::http {

std::string_view describe(ResponseVerdict v) {
  switch (v) {
    case ResponseVerdict::kAccepted:
      return "accepted";
    case ResponseVerdict::kNotUpgrade:
      return "backend answered without upgrading";
    case ResponseVerdict::kMalformed:
      return "malformed response from backend";
    case ResponseVerdict::kBadUpgrade:
      return "101 without Upgrade: websocket";
    case ResponseVerdict::kBadConnection:
      return "101 without Connection: upgrade";
    case ResponseVerdict::kBadAccept:
      return "101 with a wrong Sec-WebSocket-Accept";
    case ResponseVerdict::kProtocolNotOffered:
      return "101 with a subprotocol that was not offered";
    case ResponseVerdict::kExtensionNotOffered:
      return "101 with an extension that was not offered";
  }
  return "unknown";
}

std::size_t UpgradeResponseParser::feed(std::string_view in) {
  std::size_t used = 0;
  while (state_ == State::kIncomplete) {
    used += head_.feed(in.substr(used));
    if (head_.state() == HeadParser::State::kError) {
      state_ = State::kError;
    } else if (head_.state() == HeadParser::State::kComplete) {
      state_ = parseStatusLine() ? State::kComplete : State::kError;
      // An interim answer (103 Early Hints, 100 Continue) comes before the
      // final one: skip it and read on, a few times at most.
      if (state_ == State::kComplete && status_ < 200 && status_ != 101) {
        if (++interim_ > kMaxInterim) {
          state_ = State::kError;
          break;
        }
        head_ = HeadParser(limits_);
        state_ = State::kIncomplete;
        continue;
      }
    }
    break;
  }
  return used;
}

bool UpgradeResponseParser::parseStatusLine() {
  // HTTP-version SP 3DIGIT SP [reason-phrase]; tolerate a missing final SP.
  const std::string_view line = head_.startLine();
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return false;
  if (line[7] != '0' && line[7] != '1') return false;
  int code = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return false;
    code = code * 10 + (line[i] - '0');
  }
  if (code < 100) return false;
  if (line.size() > 12 && line[12] != ' ') return false;
  status_ = code;
  http11_ = line[7] == '1';
  reason_ = line.size() > 13 ? line.substr(13) : std::string_view{};
  return true;
}

ResponseVerdict UpgradeResponseParser::verify(const UpgradeOffer& offer) {
  if (state_ != State::kComplete) return ResponseVerdict::kMalformed;
  if (status_ != 101) {
    // Other 1xx answers are interim and would need a second head: refuse them.
    return status_ < 200 ? ResponseVerdict::kMalformed : ResponseVerdict::kNotUpgrade;
  }
  return verifyUpgrade(offer);
}

ResponseVerdict UpgradeResponseParser::verifyUpgrade(const UpgradeOffer& offer) {
  bool upgrade = false;
  bool connection = false;
  std::size_t protocols = 0;
  extensions_.clear();
  for (std::size_t i = 0; i < head_.fieldCount(); ++i) {
    const Field f = head_.field(i);
    if (equalsIgnoreCase(f.name, "Upgrade")) {
      upgrade = upgrade || listContainsToken(f.value, "websocket");
    } else if (equalsIgnoreCase(f.name, "Connection")) {
      connection = connection || listContainsToken(f.value, "upgrade");
    } else if (equalsIgnoreCase(f.name, "Sec-WebSocket-Protocol")) {
      ++protocols;
      protocol_ = f.value;
    } else if (equalsIgnoreCase(f.name, "Sec-WebSocket-Extensions")) {
      if (!parseExtensions(f.value, extensions_)) return ResponseVerdict::kExtensionNotOffered;
    }
  }
  if (!upgrade) return ResponseVerdict::kBadUpgrade;
  if (!connection) return ResponseVerdict::kBadConnection;
  if (head_.count("Sec-WebSocket-Accept") != 1 ||
      *head_.find("Sec-WebSocket-Accept") != computeAcceptKey(offer.key)) {
    return ResponseVerdict::kBadAccept;
  }
  if (protocols > 1) return ResponseVerdict::kProtocolNotOffered;
  if (protocols == 1 && std::find(offer.protocols.begin(), offer.protocols.end(), protocol_) ==
                            offer.protocols.end()) {
    return ResponseVerdict::kProtocolNotOffered;
  }
  for (std::size_t i = 0; i < extensions_.size(); ++i) {
    const Extension& e = extensions_[i];
    const bool offered =
        std::any_of(offer.extensions.begin(), offer.extensions.end(),
                    [&](const Extension& o) { return equalsIgnoreCase(o.name, e.name); });
    const bool repeated =
        std::any_of(extensions_.begin(), extensions_.begin() + i,
                    [&](const Extension& o) { return equalsIgnoreCase(o.name, e.name); });
    if (!offered || repeated) return ResponseVerdict::kExtensionNotOffered;
    if (equalsIgnoreCase(e.name, "permessage-deflate") && !parsePerMessageDeflate(e, false)) {
      return ResponseVerdict::kExtensionNotOffered;
    }
  }
  return ResponseVerdict::kAccepted;
}

}  // namespace wsedge::http
