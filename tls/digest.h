// SHA-256 of some bytes, in lowercase hex: a configuration file's identity,
// a backend's affinity value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace wsedge::tls {

/// The first `bytes` bytes (at most 32) of the digest, as 2 * bytes hex digits.
std::string sha256Hex(std::string_view data, std::size_t bytes = 32);

}  // namespace wsedge::tls
