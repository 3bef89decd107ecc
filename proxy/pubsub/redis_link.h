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
#include "proxy/telemetry/metrics.h"

struct redisReader;
struct redisReply;

namespace wsedge::pubsub {

class RedisLink final : public ChannelObserver,
                        private io::StreamHandler,
                        private io::TimerHandler {
 public:
  static constexpr std::uint64_t kLingerMs = 2000;
  static constexpr std::uint64_t kFirstBackoffMs = 100;
  static constexpr std::uint64_t kMaxBackoffMs = 5000;
  static constexpr std::uint64_t kPingEveryMs = 5000;
  static constexpr std::uint64_t kPingTimeoutMs = 15000;
  /// A reply (a message) larger than this ends the connection: Redis
  /// would otherwise make the worker buffer without bound.
  static constexpr std::size_t kMaxReply = 64 << 20;

  RedisLink(io::Loop& loop, Hub& hub, telemetry::PushCounters& counters);
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  /// Connects to this Redis (null: none). A change of address, prefix or
  /// password reconnects; the same settings change nothing.
  void configure(const conf::RedisConfig* config, const io::SocketAddress* address);
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
  void command(std::initializer_list<std::string_view> args);
  void command(std::span<const std::string> args);
  void sweep();
  void ping();
  void handle(const ::redisReply& reply);

  void onData(io::ConnId id, std::span<std::byte> data) override;
  void onReadEnd(io::ConnId id, int error) override;
  void onConnected(io::ConnId id, int error) override;
  void onDrained(io::ConnId) override {}
  void onClosed(io::ConnId id) override;
  void onTimer(io::Timer& timer) override;

  io::Loop& loop_;
  Hub& hub_;
  telemetry::PushCounters& counters_;
  std::optional<conf::RedisConfig> config_;
  io::SocketAddress address_;
  State state_ = State::kOff;
  io::ConnId conn_;
  redisReader* reader_ = nullptr;
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
