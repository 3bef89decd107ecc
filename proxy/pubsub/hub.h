// One worker's channels and their local subscribers. A message published
// to a channel is framed once (an unmasked text or binary frame) and the
// same bytes are handed to every subscriber of it on this worker, in the
// order they subscribed; messages of one channel reach each subscriber in
// the order they were published. A subscriber may leave (or be closed)
// while a message is being handed out.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/send_queue.h"

namespace wsedge::pubsub {

/// A message's frame as the hub hands it out: valid during the call only.
/// A large one is shared, so that every subscriber's queue holds the same
/// bytes instead of a copy.
struct Frame {
  std::span<const std::byte> bytes;
  io::SharedBytes* shared = nullptr;  // the same bytes, refcounted (large frames)

  /// Into a queue: by reference if shared, else copied (small frames
  /// share chunks, and so sends, with their neighbours).
  void queue(io::SendQueue& out) const {
    if (shared) {
      out.append(*shared);
    } else {
      out.write(bytes);
      out.commit();
    }
  }
};

class Subscriber {
 public:
  /// A whole frame for this subscriber's client. It may leave the hub,
  /// never publish to it. False if it was not queued (the subscriber is
  /// closing).
  virtual bool deliver(const Frame& frame) = 0;

 protected:
  ~Subscriber() = default;
};

/// Hears when a channel gets its first subscriber on this worker and when
/// its last one leaves (the Redis link subscribes and unsubscribes then).
class ChannelObserver {
 public:
  virtual void channelOpened(const std::string& channel) = 0;
  virtual void channelClosed(const std::string& channel) = 0;

 protected:
  ~ChannelObserver() = default;
};

class Hub {
 public:
  /// Frames at least this large are shared rather than copied.
  static constexpr std::size_t kShareFrom = 4096;

  void setObserver(ChannelObserver* observer) { observer_ = observer; }
  void subscribe(const std::string& channel, Subscriber& subscriber);
  void unsubscribe(const std::string& channel, Subscriber& subscriber);
  /// Returns how many subscribers queued it.
  std::size_t publish(std::string_view channel, std::span<const std::byte> payload, bool binary);

  std::size_t channels() const { return channels_.size(); }
  std::size_t subscribers(std::string_view channel) const;
  template <class F>
  void forEachChannel(F&& f) const {
    for (const auto& [name, c] : channels_) f(name);
  }

 private:
  struct Channel {
    std::vector<Subscriber*> subscribers;  // null: left during a publish
    int publishing = 0;
    bool holes = false;
  };
  std::unordered_map<std::string, Channel> channels_;
  void erase(std::unordered_map<std::string, Channel>::iterator it);

  std::vector<std::byte> frame_;  // the frame being handed out, reused
  ChannelObserver* observer_ = nullptr;
};

}  // namespace wsedge::pubsub
