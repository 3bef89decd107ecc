// How a message travels through Redis. Redis carries bytes; a WebSocket
// frame is text or binary. A message whose first byte is 0xFF (which never
// begins UTF-8) is binary without that byte: that is how POST /publish
// sends a binary message through Redis. Otherwise valid UTF-8 is text and
// anything else binary, so any Redis client can publish either.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace wsedge::pubsub {

constexpr std::byte kBinaryMark{0xFF};

struct BusMessage {
  std::span<const std::byte> payload;
  bool binary = false;
};

BusMessage decodeBusMessage(std::span<const std::byte> raw);

/// What to PUBLISH for this payload.
std::string encodeBusMessage(std::string_view payload, bool binary);

}  // namespace wsedge::pubsub
