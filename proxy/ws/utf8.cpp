#include "proxy/ws/utf8.h"

#include "proxy/ws/simd_dispatch.h"
#include "proxy/ws/utf8_lead.h"

namespace wsedge::ws {
namespace {

// Length of a code point left unfinished at the end of [p, p+n): 0 to 3.
// Only the last three bytes can be part of one; whatever else is wrong with
// them, the whole-buffer kernel or pushPending() will reject.
std::size_t unfinishedTail(const std::uint8_t* p, std::size_t n) {
  for (std::size_t k = 1; k <= 3 && k <= n; ++k) {
    const std::uint8_t b = p[n - k];
    if (b < 0x80) return 0;
    if (b >= 0xC0) {
      // Lengths by bit pattern, valid or not: 110xxxxx 2, 1110xxxx 3, 11110xxx 4.
      const std::size_t len = b >= 0xF8 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
      return len > k ? k : 0;
    }
  }
  return 0;
}

}  // namespace

bool isValidUtf8(std::span<const std::byte> data) {
  return detail::dispatch().utf8(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
}

bool isValidUtf8(std::string_view text) {
  return detail::dispatch().utf8(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

bool Utf8Validator::pushPending(std::uint8_t byte) {
  if (pendingLen_ == 0) {
    const detail::Utf8Lead lead = detail::utf8Lead(byte);
    if (lead.length < 2) return false;
    needed_ = lead.length;
  } else if (pendingLen_ == 1) {
    const detail::Utf8Lead lead = detail::utf8Lead(pending_[0]);
    if (byte < lead.secondLo || byte > lead.secondHi) return false;
  } else if ((byte & 0xC0) != 0x80) {
    return false;
  }
  pending_[pendingLen_++] = byte;
  if (pendingLen_ == needed_) pendingLen_ = 0;
  return true;
}

bool Utf8Validator::feed(std::span<const std::byte> piece) {
  if (failed_) return false;
  const auto* p = reinterpret_cast<const std::uint8_t*>(piece.data());
  std::size_t n = piece.size();
  // Finish the code point the previous piece left open.
  while (pendingLen_ != 0 && n != 0) {
    if (!pushPending(*p)) return !(failed_ = true);
    ++p;
    --n;
  }
  if (n == 0) return true;
  // The middle is whole code points: validate it in one pass.
  const std::size_t tail = unfinishedTail(p, n);
  if (!detail::dispatch().utf8(p, n - tail)) return !(failed_ = true);
  // Keep the unfinished tail, rejecting it now if it can never complete.
  for (std::size_t i = n - tail; i < n; ++i) {
    if (!pushPending(p[i])) return !(failed_ = true);
  }
  return true;
}

bool Utf8Validator::finish() {
  const bool ok = !failed_ && pendingLen_ == 0;
  reset();
  return ok;
}

}  // namespace wsedge::ws
