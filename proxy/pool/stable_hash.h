// A 64-bit hash that is the same in every process and on every run (no
// seed), so that a fleet of edges maps each key to the same backend.
#pragma once

#include <cstdint>
#include <string_view>

namespace wsedge::proxy {

/// FNV-1a, then the splitmix64 finaliser to spread its low bits.
constexpr std::uint64_t stableHash(std::string_view s, std::uint64_t seed = 0) {
  std::uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (char c : s) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

}  // namespace wsedge::proxy
