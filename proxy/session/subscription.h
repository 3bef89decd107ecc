// A session's channels on its worker's hub: each held once, all left as the
// session ends, and the session counted in its route's subscriber gauge
// while it holds any.
#pragma once

#include <string>
#include <vector>

#include "proxy/pubsub/hub.h"

namespace wsedge::proxy {

class Session;

class Subscription {
 public:
  Subscription(Session& session, pubsub::Subscriber& subscriber)
      : session_(session), subscriber_(subscriber) {}
  ~Subscription() { leaveAll(); }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  /// False if the session already holds it.
  bool join(const std::string& channel);
  void leave(const std::string& channel);
  void leaveAll();
  bool holds(const std::string& channel) const;
  std::size_t size() const { return channels_.size(); }

 private:
  void count(bool subscribed);

  Session& session_;
  pubsub::Subscriber& subscriber_;
  std::vector<std::string> channels_;  // few: a linear search is the fastest
};

}  // namespace wsedge::proxy
