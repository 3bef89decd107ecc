#include "proxy/session/granted_push.h"

#include <nlohmann/json.hpp>

#include "proxy/log.h"
#include "proxy/pubsub/channels.h"
#include "proxy/session/session.h"
#include "proxy/telemetry/metrics.h"

namespace wsedge::proxy {

namespace {

bool jsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool looksLikeControl(std::span<const std::byte> head) {
  const std::string_view s(reinterpret_cast<const char*>(head.data()), head.size());
  std::size_t i = 0;
  while (i < s.size() && jsonSpace(s[i])) ++i;
  if (i >= s.size() || s[i] != '{') return false;
  ++i;
  while (i < s.size() && jsonSpace(s[i])) ++i;
  return s.substr(i, 8) == "\"wsedge\"";
}

GrantedPush::GrantedPush(Session& session) : session_(session), subscription_(session, *this) {}

void GrantedPush::join(std::string_view channel) {
  const std::string name(channel);
  if (const std::string_view why = pubsub::checkChannelName(name); !why.empty()) {
    WSEDGE_LOG(kWarn, "a backend of pool %s granted a channel that is not one (%.*s): ignored",
               session_.pool().name.c_str(), static_cast<int>(why.size()), why.data());
    return;
  }
  const std::uint32_t max = session_.route().config->push->maxChannels;
  if (!subscription_.holds(name) && subscription_.size() >= max) {
    WSEDGE_LOG(kWarn, "a backend of pool %s granted more than max_channels (%u): '%s' ignored",
               session_.pool().name.c_str(), max, name.c_str());
    return;
  }
  subscription_.join(name);
}

void GrantedPush::grant(std::string_view value) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view item = trim(value.substr(0, comma));
    if (!item.empty()) join(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

bool GrantedPush::control(std::span<const std::byte> payload) {
  using nlohmann::json;
  const json doc =
      json::parse(reinterpret_cast<const char*>(payload.data()),
                  reinterpret_cast<const char*>(payload.data()) + payload.size(), nullptr, false);
  // Only a document whose one key is "wsedge" is for the edge.
  if (!doc.is_object() || doc.size() != 1 || !doc.contains("wsedge")) return false;
  telemetry::PushCounters& counters = *session_.context().pushCounters;
  const json& c = doc["wsedge"];
  // With a control_key, only a message that bears it is the backend's own
  // (not, say, a user's text that the backend echoes): any other passes.
  const std::string& secret = session_.route().config->push->controlKey;
  if (!secret.empty()) {
    const auto key = c.is_object() ? c.find("key") : c.end();
    if (key == c.end() || !key->is_string() || key->get<std::string>() != secret) return false;
  }
  bool valid = c.is_object();
  if (valid) {
    for (const auto& [key, list] : c.items()) {
      if (key == "key" && !secret.empty()) continue;
      valid = valid && (key == "subscribe" || key == "unsubscribe") && list.is_array();
      for (const json& name : list) valid = valid && name.is_string();
    }
  }
  if (!valid) {
    ++counters.badControl;
    WSEDGE_LOG(kWarn,
               "a backend of pool %s sent a wsedge control message that is not "
               "{\"wsedge\":{\"subscribe\":[names],\"unsubscribe\":[names]}}: dropped",
               session_.pool().name.c_str());
    return true;
  }
  ++counters.controlMessages;
  if (c.contains("unsubscribe")) {
    for (const json& name : c["unsubscribe"]) subscription_.leave(name.get<std::string>());
  }
  if (c.contains("subscribe")) {
    for (const json& name : c["subscribe"]) join(name.get<std::string>());
  }
  return true;
}

bool GrantedPush::deliver(const pubsub::Frame& pushed) {
  const std::span<const std::byte> frame = pushed.bytes;
  if (session_.ended() || !session_.inTunnel()) return false;
  Tunnel& tunnel = session_.tunnel();
  if (!tunnel.clientOpen()) return false;
  // The tunnel lets the backend's own messages fill max_buffered: the
  // pushes' queue comes on top of that.
  const std::size_t queued = session_.client().connection().pending() + waiting_.size();
  const std::uint64_t cap =
      session_.snapshot().config.pubsubQueue + session_.route().limits.maxBuffered;
  if (queued != 0 && queued + frame.size() > cap) {
    WSEDGE_LOG(kInfo, "push subscriber too slow: %zu bytes queued; closing it with 1013", queued);
    ++session_.context().pushCounters->overflowCloses;
    waiting_ = {};
    session_.end(Outcome::close(Side::kClient, Cause::kTooSlow, 1013, "too slow: the queue is full",
                                1001, "client too slow"));
    return false;
  }
  if (waiting_.empty() && tunnel.clientAtMessageBoundary()) {
    transport::Connection& out = session_.client().connection();
    pushed.queue(out.output());
    out.flush();
  } else {
    waiting_.insert(waiting_.end(), frame.begin(), frame.end());
  }
  return true;
}

void GrantedPush::atBoundary() {
  if (waiting_.empty() || !session_.tunnel().clientAtMessageBoundary()) return;
  session_.client().send(waiting_);
  waiting_ = {};  // nothing kept while idle
}

}  // namespace wsedge::proxy
