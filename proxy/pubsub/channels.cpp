#include "proxy/pubsub/channels.h"

#include <algorithm>

#include "proxy/http/query.h"

namespace wsedge::pubsub {

std::string_view checkChannelName(std::string_view name) {
  if (name.empty()) return "a channel name may not be empty";
  if (name.size() > kMaxChannelName) return "a channel name is 256 bytes at most";
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return "a channel name may not hold control characters";
  }
  return {};
}

ChannelRequest channelsOf(std::string_view path, std::string_view prefix, std::string_view query,
                          std::size_t maxChannels) {
  ChannelRequest r;
  const auto add = [&](std::string name) {
    if (!r.error.empty()) return;
    if (const std::string_view why = checkChannelName(name); !why.empty()) {
      r.error = why;
      return;
    }
    if (std::find(r.channels.begin(), r.channels.end(), name) != r.channels.end()) return;
    if (r.channels.size() == maxChannels) {
      r.error =
          "more channels than this route's max_channels (" + std::to_string(maxChannels) + ")";
      return;
    }
    r.channels.push_back(std::move(name));
  };
  // The path under the prefix, without its slashes at either end.
  std::string_view rest = path.substr(std::min(prefix.size(), path.size()));
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (!rest.empty()) add(std::string(rest));
  http::forEachQueryParameter(query, "channel", [&](const std::string& v) { add(v); });
  if (r.error.empty() && r.channels.empty()) {
    r.error = "no channel: name one in the path or with ?channel=NAME";
  }
  return r;
}

}  // namespace wsedge::pubsub
