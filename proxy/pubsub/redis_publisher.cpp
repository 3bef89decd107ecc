#include "proxy/pubsub/redis_publisher.h"

#include <hiredis/hiredis.h>

#include <memory>

namespace wsedge::pubsub {

namespace {

timeval toTimeval(int ms) {
  return timeval{ms / 1000, (ms % 1000) * 1000};
}

using Reply = std::unique_ptr<redisReply, void (*)(void*)>;

Reply run(redisContext* ctx, std::initializer_list<std::string_view> args) {
  const char* argv[4];
  std::size_t lens[4];
  int n = 0;
  for (const std::string_view a : args) {
    argv[n] = a.data();
    lens[n++] = a.size();
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(ctx, n, argv, lens)), freeReplyObject);
}

}  // namespace

RedisPublisher::~RedisPublisher() {
  drop();
}

void RedisPublisher::drop() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
  target_.clear();
}

bool RedisPublisher::connect(const conf::RedisConfig& config, const io::SocketAddress& address,
                             std::string* error) {
  drop();
  ctx_ = redisConnectWithTimeout(address.ipString().c_str(), address.port(),
                                 toTimeval(kConnectTimeoutMs));
  if (!ctx_ || ctx_->err) {
    *error = ctx_ ? ctx_->errstr : "out of memory";
    drop();
    return false;
  }
  redisSetTimeout(ctx_, toTimeval(kCommandTimeoutMs));
  if (!config.password.empty()) {
    Reply r = run(ctx_, {"AUTH", config.password});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = r ? std::string("AUTH: ") + r->str : ctx_->errstr;
      drop();
      return false;
    }
  }
  target_ = address.toString() + " " + config.password;
  return true;
}

RedisPublisher::Result RedisPublisher::publish(const conf::RedisConfig& config,
                                               const io::SocketAddress& address,
                                               std::string_view channel, std::string_view message) {
  std::lock_guard lock(mutex_);
  const std::string key = config.prefix + std::string(channel);
  Result result;
  // A kept connection may have died with a restarted Redis: one more try
  // on a new one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ctx_ || target_ != address.toString() + " " + config.password) {
      if (!connect(config, address, &result.error)) return result;
    }
    Reply r = run(ctx_, {"PUBLISH", key, message});
    if (r && r->type == REDIS_REPLY_INTEGER) {
      result.ok = true;
      result.receivers = r->integer;
      result.error.clear();
      return result;
    }
    result.error = r ? (r->type == REDIS_REPLY_ERROR ? std::string(r->str) : "unexpected reply")
                     : std::string(ctx_->errstr);
    drop();
  }
  return result;
}

}  // namespace wsedge::pubsub
