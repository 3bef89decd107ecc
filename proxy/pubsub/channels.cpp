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

std::optional<std::string> decodeChannel(std::string_view in) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
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
  if (!rest.empty()) {
    if (std::optional<std::string> name = decodeChannel(rest)) {
      add(std::move(*name));
    } else {
      r.error = "the channel in the path is not validly percent-encoded";
    }
  }
  http::forEachQueryParameter(query, "channel", [&](const std::string& v) { add(v); });
  if (r.error.empty() && r.channels.empty()) {
    r.error = "no channel: name one in the path or with ?channel=NAME";
  }
  return r;
}

}  // namespace wsedge::pubsub
