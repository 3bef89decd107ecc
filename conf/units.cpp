#include "conf/units.h"

#include <cctype>
#include <charconv>
#include <string>

namespace wsedge::conf {
namespace {

// Splits "  12 MiB " into 12 and "mib" (lower case).
bool splitNumberUnit(std::string_view text, std::uint64_t* number, std::string* unit) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *number);
  if (ec != std::errc{} || end == text.data()) return false;
  std::string_view rest(end, static_cast<std::size_t>(text.data() + text.size() - end));
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  unit->clear();
  for (char c : rest)
    unit->push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return true;
}

std::optional<std::uint64_t> scaled(std::uint64_t n, std::uint64_t factor) {
  if (factor != 0 && n > UINT64_MAX / factor) return std::nullopt;
  return n * factor;
}

}  // namespace

std::optional<std::uint64_t> parseSize(std::string_view text) {
  std::uint64_t n;
  std::string unit;
  if (!splitNumberUnit(text, &n, &unit)) return std::nullopt;
  if (unit.empty() || unit == "b") return n;
  if (unit == "kb") return scaled(n, 1000);
  if (unit == "mb") return scaled(n, 1000 * 1000);
  if (unit == "gb") return scaled(n, 1000 * 1000 * 1000);
  if (unit == "kib" || unit == "k") return scaled(n, 1024);
  if (unit == "mib" || unit == "m") return scaled(n, 1024 * 1024);
  if (unit == "gib" || unit == "g") return scaled(n, 1024 * 1024 * 1024);
  return std::nullopt;
}

std::optional<std::uint64_t> parseDurationMs(std::string_view text) {
  std::uint64_t n;
  std::string unit;
  if (!splitNumberUnit(text, &n, &unit)) return std::nullopt;
  if (unit == "ms") return n;
  if (unit == "s") return scaled(n, 1000);
  if (unit == "m" || unit == "min") return scaled(n, 60 * 1000);
  if (unit == "h") return scaled(n, 3600 * 1000);
  return std::nullopt;
}

}  // namespace wsedge::conf

namespace wsedge::conf {

std::optional<HostPort> parseHostPort(std::string_view text) {
  HostPort hp;
  std::size_t colon;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    hp.host = std::string(text.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return std::nullopt;  // IPv6 needs brackets
  }
  if (hp.host.empty()) return std::nullopt;
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  hp.port = static_cast<std::uint16_t>(value);
  return hp;
}

}  // namespace wsedge::conf
