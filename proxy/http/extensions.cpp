#include "proxy/http/extensions.h"

#include "proxy/http/head_parser.h"
#include "proxy/ws/frame.h"

namespace wsedge::http {
namespace {

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  void skipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  bool done() {
    skipSpace();
    return pos_ == s_.size();
  }
  bool eat(char c) {
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string_view token() {
    skipSpace();
    const std::size_t start = pos_;
    while (pos_ < s_.size() && isTokenChar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // A token, or a quoted string holding a token (no escapes).
  std::optional<std::string_view> value() {
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == '"') {
      const std::size_t close = s_.find('"', pos_ + 1);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view inner = s_.substr(pos_ + 1, close - pos_ - 1);
      if (!isToken(inner)) return std::nullopt;
      pos_ = close + 1;
      return inner;
    }
    std::string_view t = token();
    if (t.empty()) return std::nullopt;
    return t;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

std::optional<std::uint8_t> windowBits(std::string_view v) {
  if (v.size() == 1 && v[0] >= '8' && v[0] <= '9') return static_cast<std::uint8_t>(v[0] - '0');
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
    return static_cast<std::uint8_t>(10 + v[1] - '0');
  }
  return std::nullopt;
}

}  // namespace

bool parseExtensions(std::string_view value, std::vector<Extension>& out) {
  Lexer lex(value);
  bool first = true;
  while (!lex.done()) {
    if (!first && !lex.eat(',')) return false;
    first = false;
    if (lex.eat(',')) continue;  // tolerate empty list elements, as #rule allows
    Extension ext;
    ext.name = lex.token();
    if (ext.name.empty()) return false;
    while (lex.eat(';')) {
      ExtensionParam p;
      p.name = lex.token();
      if (p.name.empty()) return false;
      if (lex.eat('=')) {
        auto v = lex.value();
        if (!v) return false;
        p.value = *v;
        p.hasValue = true;
      }
      ext.params.push_back(p);
    }
    out.push_back(std::move(ext));
  }
  return true;
}

std::optional<PerMessageDeflate> parsePerMessageDeflate(const Extension& ext, bool isOffer) {
  if (!equalsIgnoreCase(ext.name, "permessage-deflate")) return std::nullopt;
  PerMessageDeflate pmd;
  unsigned seen = 0;
  for (const ExtensionParam& p : ext.params) {
    unsigned bit;
    if (equalsIgnoreCase(p.name, "server_no_context_takeover")) {
      if (p.hasValue) return std::nullopt;
      pmd.serverNoContextTakeover = true;
      bit = 1;
    } else if (equalsIgnoreCase(p.name, "client_no_context_takeover")) {
      if (p.hasValue) return std::nullopt;
      pmd.clientNoContextTakeover = true;
      bit = 2;
    } else if (equalsIgnoreCase(p.name, "server_max_window_bits")) {
      auto bits = p.hasValue ? windowBits(p.value) : std::nullopt;
      if (!bits) return std::nullopt;
      pmd.serverMaxWindowBits = *bits;
      bit = 4;
    } else if (equalsIgnoreCase(p.name, "client_max_window_bits")) {
      if (p.hasValue) {
        auto bits = windowBits(p.value);
        if (!bits) return std::nullopt;
        pmd.clientMaxWindowBits = *bits;
      } else if (!isOffer) {
        return std::nullopt;  // a response must give the value
      }
      bit = 8;
    } else {
      return std::nullopt;
    }
    if (seen & bit) return std::nullopt;
    seen |= bit;
  }
  return pmd;
}

std::uint8_t rsvBitsFor(std::span<const Extension> negotiated) {
  for (const Extension& e : negotiated) {
    if (equalsIgnoreCase(e.name, "permessage-deflate")) return ws::kRsv1;
  }
  return 0;
}

}  // namespace wsedge::http
