#include "proxy/session/subscription.h"

#include <algorithm>

#include "proxy/session/session.h"

namespace wsedge::proxy {

bool Subscription::holds(const std::string& channel) const {
  return std::find(channels_.begin(), channels_.end(), channel) != channels_.end();
}

bool Subscription::join(const std::string& channel) {
  if (holds(channel)) return false;
  if (channels_.empty()) count(true);
  channels_.push_back(channel);
  session_.context().hub->subscribe(channel, subscriber_);
  return true;
}

void Subscription::leave(const std::string& channel) {
  const auto it = std::find(channels_.begin(), channels_.end(), channel);
  if (it == channels_.end()) return;
  channels_.erase(it);
  session_.context().hub->unsubscribe(channel, subscriber_);
  if (channels_.empty()) count(false);
}

void Subscription::leaveAll() {
  if (channels_.empty()) return;
  for (const std::string& c : channels_) session_.context().hub->unsubscribe(c, subscriber_);
  channels_.clear();
  count(false);
}

void Subscription::count(bool subscribed) {
  telemetry::RouteCounters& r = session_.routeCounters();
  if (subscribed) {
    ++r.subscribers;
    ++r.subscribed;
  } else {
    --r.subscribers;
  }
}

}  // namespace wsedge::proxy
