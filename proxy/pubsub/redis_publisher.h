// POST /publish with Redis configured: PUBLISH prefix+channel, so that every
// instance on that Redis delivers the message. It runs on the admin
// thread's own loop (never a worker's), on one connection made when first
// needed, with the commands of concurrent requests pipelined; each request
// hears its own reply, or why there was none (Redis unreachable, or no
// answer within kTimeoutMs: the caller answers 503).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "io/loop.h"
#include "proxy/pubsub/resp_connection.h"

namespace wsedge::pubsub {

class RedisPublisher final : private RespConnection::Owner, private io::TimerHandler {
 public:
  static constexpr std::uint64_t kTimeoutMs = 2000;

  struct Result {
    bool ok = false;
    long long receivers = 0;  // Redis's count: subscriber connections (workers) reached
    std::string error;        // why not
    /// Not ok, and Redis may have run it anyway (the connection was lost,
    /// or gave no answer, after the command went out).
    bool unknown = false;
  };
  using Done = std::function<void(const Result&)>;

  explicit RedisPublisher(io::Loop& loop);
  ~RedisPublisher();
  RedisPublisher(const RedisPublisher&) = delete;
  RedisPublisher& operator=(const RedisPublisher&) = delete;

  /// Publishes the message (already encoded: see redis_message.h) to
  /// config.prefix + channel; done follows, on this loop, never inside.
  void publish(const conf::RedisConfig& config, const io::SocketAddress& address,
               std::string_view channel, std::string_view message, Done done);
  /// Every publish waiting hears `why`; the connection closes.
  void failAll(const std::string& why);

 private:
  void connect(const conf::RedisConfig& config, const io::SocketAddress& address);
  /// A command whose reply goes to done.
  void expect(Done done);

  void onReply(const ::redisReply& reply) override;
  void onLost(const std::string& why) override { failAll("Redis: " + why); }
  void onTimer(io::Timer& timer) override;

  struct Pending {
    Done done;  // empty: AUTH, whose error fails everything
    std::uint64_t sentAt;
  };

  io::Loop& loop_;
  RespConnection conn_;
  std::string target_;  // what conn_ goes to: address and password
  std::deque<Pending> pending_;
  io::Timer timer_;
};

}  // namespace wsedge::pubsub
