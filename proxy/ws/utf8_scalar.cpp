// Reference validator: byte at a time, eight ASCII bytes at a time when it can.
#include <cstring>

#include "proxy/ws/simd_dispatch.h"
#include "proxy/ws/utf8_lead.h"

namespace wsedge::ws::detail {

bool utf8Scalar(const std::uint8_t* s, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, s + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const Utf8Lead lead = utf8Lead(s[i]);
    if (lead.length == 0 || n - i < lead.length) return false;
    if (lead.length > 1) {
      if (s[i + 1] < lead.secondLo || s[i + 1] > lead.secondHi) return false;
      for (std::size_t k = 2; k < lead.length; ++k) {
        if ((s[i + k] & 0xC0) != 0x80) return false;
      }
    }
    i += lead.length;
  }
  return true;
}

}  // namespace wsedge::ws::detail
