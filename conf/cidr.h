// Address ranges as the configuration writes them: "10.0.0.0/8",
// "2001:db8::/32", or a bare address (a range of one).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace wsedge::conf {

struct Cidr {
  bool v6 = false;
  std::uint8_t bytes[16] = {};  // network order; the first 4 for IPv4
  std::uint8_t prefix = 0;      // bits that must match

  /// Whether an address (4 or 16 bytes, network order) lies in the range.
  /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 ranges.
  bool contains(const std::uint8_t* address, bool addressIsV6) const;
};

/// Empty if the text is not an address with an optional /prefix in range.
std::optional<Cidr> parseCidr(std::string_view text);

}  // namespace wsedge::conf
