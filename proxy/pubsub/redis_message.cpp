#include "proxy/pubsub/redis_message.h"

#include "proxy/ws/utf8.h"

namespace wsedge::pubsub {

BusMessage decodeBusMessage(std::span<const std::byte> raw) {
  if (!raw.empty() && raw[0] == kBinaryMark) return {raw.subspan(1), true};
  return {raw, !ws::isValidUtf8(raw)};
}

std::string encodeBusMessage(std::string_view payload, bool binary) {
  std::string out;
  out.reserve(payload.size() + 1);
  if (binary) out.push_back(static_cast<char>(kBinaryMark));
  out.append(payload);
  return out;
}

}  // namespace wsedge::pubsub
