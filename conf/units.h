// Sizes ("16MiB", "64 KiB", "1MB", "4096") and durations ("10s", "500ms",
// "5m", "1h") as they are written in the configuration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wsedge::conf {

/// Bytes. Units B, KB/MB/GB (powers of 1000) and KiB/MiB/GiB (powers of
/// 1024), any case; a bare number is bytes. Empty on error or overflow.
std::optional<std::uint64_t> parseSize(std::string_view text);

/// Milliseconds. Units ms, s, m, h; a unit is required.
std::optional<std::uint64_t> parseDurationMs(std::string_view text);

}  // namespace wsedge::conf

namespace wsedge::conf {

struct HostPort {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;
};

/// "host:port", "1.2.3.4:80" or "[::1]:80". Port 1-65535.
std::optional<HostPort> parseHostPort(std::string_view text);

}  // namespace wsedge::conf
