#include "proxy/pubsub/redis_publisher.h"

#include <hiredis/hiredis.h>

namespace wsedge::pubsub {

RedisPublisher::RedisPublisher(io::Loop& loop) : loop_(loop), conn_(loop, *this), timer_(this) {}

RedisPublisher::~RedisPublisher() = default;

void RedisPublisher::connect(const conf::RedisConfig& config, const io::SocketAddress& address) {
  failAll("the Redis address changed");
  std::string error;
  if (!conn_.open(address, &error)) return;
  target_ = address.toString() + " " + config.password;
  if (!config.password.empty()) {
    conn_.command({"AUTH", config.password});
    expect(nullptr);
  }
}

void RedisPublisher::publish(const conf::RedisConfig& config, const io::SocketAddress& address,
                             std::string_view channel, std::string_view message, Done done) {
  if (!conn_.isOpen() || target_ != address.toString() + " " + config.password) {
    connect(config, address);
  }
  if (!conn_.isOpen()) {
    // Said from the loop, as every answer is.
    loop_.post([done = std::move(done)] { done({false, 0, "cannot connect to Redis", false}); });
    return;
  }
  conn_.command({"PUBLISH", config.prefix + std::string(channel), message});
  expect(std::move(done));
}

void RedisPublisher::expect(Done done) {
  pending_.push_back({std::move(done), loop_.now()});
  if (!timer_.scheduled()) loop_.timers().scheduleIn(timer_, kTimeoutMs / 4);
}

void RedisPublisher::onReply(const ::redisReply& reply) {
  if (pending_.empty()) return failAll("Redis answered what was never asked");
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  const bool error = reply.type == REDIS_REPLY_ERROR;
  const std::string text = reply.str ? std::string(reply.str, reply.len) : std::string();
  if (!p.done) {
    if (error) failAll("Redis refused AUTH: " + text);
    return;
  }
  if (error) {
    p.done({false, 0, "Redis: " + text, false});
  } else if (reply.type == REDIS_REPLY_INTEGER) {
    p.done({true, reply.integer, {}, false});
  } else {
    p.done({false, 0, "an unexpected reply to PUBLISH", false});
  }
}

void RedisPublisher::onTimer(io::Timer&) {
  if (pending_.empty()) return;
  if (loop_.now() - pending_.front().sentAt >= kTimeoutMs) {
    return failAll("no answer from Redis within 2 s");
  }
  loop_.timers().scheduleIn(timer_, kTimeoutMs / 4);
}

void RedisPublisher::failAll(const std::string& why) {
  // Commands that reached Redis may have run: their outcome is not known.
  const bool sent = conn_.connected();
  conn_.close();
  target_.clear();
  timer_.cancel();
  // A caller may publish again from its callback: the list is taken first.
  std::deque<Pending> failed = std::move(pending_);
  pending_.clear();
  for (Pending& p : failed) {
    if (p.done) p.done({false, 0, why, sent});
  }
}

}  // namespace wsedge::pubsub
