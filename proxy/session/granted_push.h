// Push on a proxied route (push: { from_backend: true | control }): the
// backend grants the session channels in its 101 (Wsedge-Subscribe: a, b),
// and what is published to them is interleaved with the backend's own
// messages toward the client, only ever between two messages (never inside
// a fragmented one): a push that arrives mid-message waits for its end.
// With `control`, a text message {"wsedge": {"subscribe": [..],
// "unsubscribe": [..]}} from the backend changes the channels and stops
// here. Pushes waiting and queued count against pubsub.queue; past it the
// client is closed with 1013.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/pubsub/hub.h"
#include "proxy/session/relay.h"
#include "proxy/session/subscription.h"

namespace wsedge::proxy {

class Session;

/// The field of the backend's 101 that grants channels; it never reaches the client.
inline constexpr std::string_view kSubscribeField = "Wsedge-Subscribe";

/// A payload that begins like {"wsedge": (JSON whitespace allowed): a
/// control message, if the rest agrees.
bool looksLikeControl(std::span<const std::byte> head);

class GrantedPush final : public pubsub::Subscriber, public MessageFilter {
 public:
  explicit GrantedPush(Session& session);
  GrantedPush(const GrantedPush&) = delete;
  GrantedPush& operator=(const GrantedPush&) = delete;

  /// The channels of a Wsedge-Subscribe value (a comma-separated list).
  void grant(std::string_view fieldValue);
  /// Whether this text message is a control message for the edge (then
  /// it is applied, or logged if invalid, and not forwarded).
  bool control(std::span<const std::byte> payload);
  /// The relay toward the client is between two messages: what waited goes.
  void atBoundary();
  void leave() { subscription_.leaveAll(); }
  std::size_t channels() const { return subscription_.size(); }

  bool deliver(const pubsub::Frame& frame) override;
  // from_backend: control: the relay from the backend asks here first.
  bool wants(std::span<const std::byte> head) const override { return looksLikeControl(head); }
  bool consume(std::span<const std::byte> payload) override { return control(payload); }

 private:
  void join(std::string_view channel);

  Session& session_;
  Subscription subscription_;
  std::vector<std::byte> waiting_;  // pushes behind an unfinished backend message
};

}  // namespace wsedge::proxy
