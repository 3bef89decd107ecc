// POST /publish with Redis configured: PUBLISH prefix+channel on a
// connection of the admin thread's own (blocking, with timeouts; never on
// a worker), so that every instance on that Redis delivers the message.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "io/socket_address.h"

struct redisContext;

namespace wsedge::pubsub {

class RedisPublisher {
 public:
  static constexpr int kConnectTimeoutMs = 1000;
  static constexpr int kCommandTimeoutMs = 2000;

  RedisPublisher() = default;
  ~RedisPublisher();
  RedisPublisher(const RedisPublisher&) = delete;
  RedisPublisher& operator=(const RedisPublisher&) = delete;

  struct Result {
    bool ok = false;
    long long receivers = 0;  // Redis's count: subscriber connections (workers) reached
    std::string error;        // why not, for the 503
  };
  /// Publishes the message (already encoded: see redis_message.h) to
  /// config.prefix + channel. A connection that fails is made again once.
  Result publish(const conf::RedisConfig& config, const io::SocketAddress& address,
                 std::string_view channel, std::string_view message);

 private:
  bool connect(const conf::RedisConfig& config, const io::SocketAddress& address,
               std::string* error);
  void drop();

  std::mutex mutex_;
  redisContext* ctx_ = nullptr;
  std::string target_;  // what ctx_ is connected to (address and password)
};

}  // namespace wsedge::pubsub
