// Channel names, and the channels a push-only request asks for: the path
// under its route's prefix (/live/news under /live: "news"), then every
// `channel` query parameter (/live?channel=a&channel=b), in order, each once.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsedge::pubsub {

inline constexpr std::size_t kMaxChannelName = 256;

/// Why a name is not a channel's (empty, over 256 bytes, a control
/// character), or empty if it is one.
std::string_view checkChannelName(std::string_view name);

struct ChannelRequest {
  std::vector<std::string> channels;
  std::string error;  // non-empty: the request is refused with 400, for this
};

/// Percent-decoding as in a path ('+' stays '+'); empty if an escape is
/// malformed. The channel a path names, and the one /publish/NAME names,
/// are read the same way.
std::optional<std::string> decodeChannel(std::string_view encoded);

/// path: the normalised path; prefix: the route's path_prefix (or empty);
/// query: as sent, with its '?'.
ChannelRequest channelsOf(std::string_view path, std::string_view prefix, std::string_view query,
                          std::size_t maxChannels);

}  // namespace wsedge::pubsub
