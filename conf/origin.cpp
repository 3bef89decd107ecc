#include "conf/origin.h"

#include <cctype>

namespace wsedge::conf {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool isDigits(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::optional<Origin> parseOrigin(std::string_view text) {
  const std::size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  for (char c : text.substr(0, sep)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return std::nullopt;
    }
  }
  Origin o;
  o.scheme = lower(text.substr(0, sep + 3));
  std::string_view rest = text.substr(sep + 3);
  if (rest.find_first_of("/?#@ ") != std::string_view::npos) return std::nullopt;
  const std::size_t close = rest.find(']');
  const std::size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    if (!isDigits(rest.substr(colon + 1))) return std::nullopt;
    o.port = std::string(rest.substr(colon));
    rest = rest.substr(0, colon);
  }
  o.host = lower(rest);
  if (o.host.empty() || o.host == "*." ||
      o.host.find('*', o.host.rfind("*.", 0) == 0 ? 1 : 0) != std::string::npos) {
    return std::nullopt;
  }
  return o;
}

}  // namespace wsedge::conf
