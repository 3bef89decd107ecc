#include "proxy/pubsub/hub.h"

#include <algorithm>

#include "proxy/ws/frame_writer.h"

namespace wsedge::pubsub {

void Hub::subscribe(const std::string& channel, Subscriber& subscriber) {
  const auto [it, added] = channels_.try_emplace(channel);
  it->second.subscribers.push_back(&subscriber);
  if (added && observer_) observer_->channelOpened(channel);
}

void Hub::erase(std::unordered_map<std::string, Channel>::iterator it) {
  const std::string name = it->first;
  channels_.erase(it);
  if (observer_) observer_->channelClosed(name);
}

void Hub::unsubscribe(const std::string& channel, Subscriber& subscriber) {
  const auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  Channel& c = it->second;
  const auto s = std::find(c.subscribers.begin(), c.subscribers.end(), &subscriber);
  if (s == c.subscribers.end()) return;
  if (c.publishing > 0) {
    // Being walked: leave a hole, filled in when the walk ends.
    *s = nullptr;
    c.holes = true;
    return;
  }
  c.subscribers.erase(s);
  if (c.subscribers.empty()) erase(it);
}

std::size_t Hub::publish(std::string_view channel, std::span<const std::byte> payload,
                         bool binary) {
  const std::string key(channel);
  const auto it = channels_.find(key);
  if (it == channels_.end()) return 0;
  ws::FrameHeader h;
  h.opcode = binary ? ws::Opcode::kBinary : ws::Opcode::kText;
  frame_.clear();
  ws::appendFrame(frame_, h, payload);
  // A subscriber may leave (or others subscribe) as it is handed the frame:
  // walk by index over the ones there at the start. (Elements of the map
  // stay where they are whatever is added to it.)
  Channel& c = it->second;
  Frame frame{frame_};
  if (frame_.size() >= kShareFrom && c.subscribers.size() > 1) {
    frame.shared = io::SharedBytes::copyOf(frame_);
  }
  ++c.publishing;
  std::size_t handed = 0;
  const std::size_t n = c.subscribers.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (Subscriber* s = c.subscribers[i]) handed += s->deliver(frame) ? 1 : 0;
  }
  if (frame.shared) frame.shared->unref();  // the queues hold theirs
  if (--c.publishing == 0 && c.holes) {
    std::erase(c.subscribers, nullptr);
    c.holes = false;
    // (Iterators do not survive a rehash that a subscribe may have caused.)
    if (c.subscribers.empty()) erase(channels_.find(key));
  }
  return handed;
}

std::size_t Hub::subscribers(std::string_view channel) const {
  const auto it = channels_.find(std::string(channel));
  if (it == channels_.end()) return 0;
  return static_cast<std::size_t>(std::count_if(it->second.subscribers.begin(),
                                                it->second.subscribers.end(),
                                                [](const Subscriber* s) { return s != nullptr; }));
}

}  // namespace wsedge::pubsub
