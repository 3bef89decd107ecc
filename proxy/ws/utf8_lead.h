// Internal: what a lead byte allows (Unicode 15, table 3-7). The second byte
// has a narrower range after E0, ED, F0 and F4; that is what rules out
// overlongs, surrogates and code points above U+10FFFF.
#pragma once

#include <cstdint>

namespace wsedge::ws::detail {

struct Utf8Lead {
  std::uint8_t length;  // 0: this byte can never start a sequence
  std::uint8_t secondLo;
  std::uint8_t secondHi;
};

constexpr Utf8Lead utf8Lead(std::uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};  // continuation, or overlong C0/C1
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

}  // namespace wsedge::ws::detail
