#include "conf/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <string>

namespace wsedge::conf {

std::optional<Cidr> parseCidr(std::string_view text) {
  Cidr c;
  const std::size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  if (inet_pton(AF_INET, address.c_str(), c.bytes) == 1) {
    c.v6 = false;
  } else if (inet_pton(AF_INET6, address.c_str(), c.bytes) == 1) {
    c.v6 = true;
  } else {
    return std::nullopt;
  }
  const unsigned max = c.v6 ? 128 : 32;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || prefix > max) {
      return std::nullopt;
    }
  }
  c.prefix = static_cast<std::uint8_t>(prefix);
  return c;
}

bool Cidr::contains(const std::uint8_t* address, bool addressIsV6) const {
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (addressIsV6 && !v6 && std::memcmp(address, kMapped, sizeof kMapped) == 0) {
    address += 12;  // ::ffff:a.b.c.d is a.b.c.d
    addressIsV6 = false;
  }
  if (addressIsV6 != v6) return false;
  const unsigned whole = prefix / 8;
  if (std::memcmp(address, bytes, whole) != 0) return false;
  const unsigned bits = prefix % 8;
  if (bits == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - bits));
  return (address[whole] & mask) == (bytes[whole] & mask);
}

}  // namespace wsedge::conf
