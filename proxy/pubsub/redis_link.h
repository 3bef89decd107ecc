// One worker's subscriber connection to Redis, the bus between instances.
// It runs on the worker's own loop (never a blocking call) and speaks RESP
// through hiredis's sans-IO reader. The worker's hub says when a channel
// gets its first local subscriber (SUBSCRIBE prefix+channel) and when its
// last one leaves (UNSUBSCRIBE, a linger later, so that flapping clients do
// not churn Redis). What Redis delivers is handed to the hub, in the order
// Redis sends it.
//
// When the connection fails or Redis goes away, the WebSockets stay open:
// the link reconnects with capped exponential backoff and subscribes every
// live channel again. A ping every few seconds finds a Redis that went
// silent.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "conf/config.h"
#include "io/loop.h"
#include "proxy/pubsub/hub.h"
#include "proxy/pubsub/resp_connection.h"
#include "proxy/telemetry/metrics.h"

namespace wsedge::pubsub {

class RedisLink final : public ChannelObserver,
                        private RespConnection::Owner,
                        private io::TimerHandler {
 public:
  static constexpr std::uint64_t kLingerMs = 2000;
  static constexpr std::uint64_t kFirstBackoffMs = 100;
  static constexpr std::uint64_t kMaxBackoffMs = 5000;
  static constexpr std::uint64_t kPingEveryMs = 5000;
  static constexpr std::uint64_t kPingTimeoutMs = 15000;

  RedisLink(io::Loop& loop, Hub& hub, telemetry::PushCounters& counters);
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  /// Connects to this Redis (null: none). A change of address, prefix or
  /// password reconnects; the same settings change nothing.
  /// maxMessage: pubsub.queue; a larger message is dropped (and counted):
  /// every subscriber would hold a copy of it.
  void configure(const conf::RedisConfig* config, const io::SocketAddress* address,
                 std::uint64_t maxMessage);
  /// Closes the connection for good (the worker is stopping).
  void stop();
  /// Subscribed and answering.
  bool up() const { return state_ == State::kReady; }

  void channelOpened(const std::string& channel) override;
  void channelClosed(const std::string& channel) override;

 private:
  // kGreeting: connected, commands sent, the first PONG not yet back.
  enum class State : std::uint8_t { kOff, kConnecting, kGreeting, kReady, kWaiting };

  void connect();
  /// The connection failed: log once per outage, close, retry after the backoff.
  void lost(std::string_view why);
  void subscribeAll();
  void sweep();
  void ping();

  void onReply(const ::redisReply& reply) override;
  void onLost(const std::string& why) override { lost(why); }
  void onTimer(io::Timer& timer) override;

  io::Loop& loop_;
  Hub& hub_;
  telemetry::PushCounters& counters_;
  std::optional<conf::RedisConfig> config_;
  io::SocketAddress address_;
  std::uint64_t maxMessage_ = ~std::uint64_t{0};
  bool tooLargeLogged_ = false;
  State state_ = State::kOff;
  RespConnection conn_;
  std::uint64_t backoffMs_ = kFirstBackoffMs;
  bool outageLogged_ = false;
  bool pingOut_ = false;  // a PING is unanswered
  std::uint64_t pingAt_ = 0;
  // Channels with no local subscriber left, still subscribed: until when.
  std::unordered_map<std::string, std::uint64_t> lingering_;
  io::Timer retry_;  // the next connect
  io::Timer tick_;   // pings, and the linger sweep
};

}  // namespace wsedge::pubsub
