#include "proxy/session/upstream_pool.h"

#include <algorithm>

namespace wsedge::proxy {

UpstreamPool::Idle::Idle(UpstreamPool& p, std::string k, transport::ConnectionPtr c)
    : pool(p), key(std::move(k)), connection(std::move(c)), timer(this) {
  connection->setHandler(*this);
}

UpstreamPool::~UpstreamPool() {
  closeAll();
}

void UpstreamPool::put(const std::string& key, transport::ConnectionPtr connection,
                       std::size_t maxIdle, std::uint64_t idleMs) {
  std::vector<std::unique_ptr<Idle>>& list = idle_[key];
  // Beyond maxIdle a connection is kept only a moment: long enough for the
  // next requests of a burst to take it instead of opening new ones (a
  // burst of responses leaves more idle at once than are in use on
  // average), never long enough to hold what the load no longer needs.
  // Their number is bounded by the requests that were in flight.
  const std::uint64_t keep = list.size() >= maxIdle ? std::min(idleMs, kSurplusMs) : idleMs;
  list.push_back(std::make_unique<Idle>(*this, key, std::move(connection)));
  list.back()->sinceMs = timers_.now();
  timers_.scheduleIn(list.back()->timer, keep);
  ++count_;
}

transport::ConnectionPtr UpstreamPool::take(const std::string& key, std::uint64_t maxAgeMs) {
  const auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  std::vector<std::unique_ptr<Idle>>& list = it->second;
  // The longest idle first (within maxAgeMs): one just given back has had
  // the least time to show, by bytes or a close, that it is not fit.
  const std::uint64_t now = timers_.now();
  const auto pick = std::find_if(list.begin(), list.end(),
                                 [&](const auto& i) { return now - i->sinceMs <= maxAgeMs; });
  if (pick == list.end()) return nullptr;
  std::unique_ptr<Idle> idle = std::move(*pick);
  list.erase(pick);
  --count_;
  return std::move(idle->connection);
}

void UpstreamPool::forget(Idle& idle) {
  std::vector<std::unique_ptr<Idle>>& list = idle_[idle.key];
  const auto it =
      std::find_if(list.begin(), list.end(), [&](const auto& p) { return p.get() == &idle; });
  if (it == list.end()) return;
  transport::close(idle.connection, false);
  list.erase(it);  // deletes it: nothing of it is touched after this
  --count_;
}

void UpstreamPool::closeAll() {
  for (auto& [key, list] : idle_) {
    for (auto& idle : list) transport::close(idle->connection, false);
  }
  idle_.clear();
  count_ = 0;
}

}  // namespace wsedge::proxy
