#include "proxy/pubsub/redis_publisher.h"

#include <hiredis/hiredis.h>

#include <cstring>
#include <memory>
#include <vector>

namespace wsedge::pubsub {

RedisPublisher::RedisPublisher(io::Loop& loop) : loop_(loop), timer_(this) {}

RedisPublisher::~RedisPublisher() {
  if (conn_) loop_.close(conn_, false);
  if (reader_) redisReaderFree(reader_);
}

void RedisPublisher::connect(const conf::RedisConfig& config, const io::SocketAddress& address) {
  failAll("the Redis address changed");
  int error = 0;
  conn_ = loop_.connect(address, *this, &error);
  if (!conn_) return failAll(std::string("cannot connect to Redis: ") + std::strerror(-error));
  reader_ = redisReaderCreate();
  target_ = address.toString() + " " + config.password;
  if (!config.password.empty()) command({"AUTH", config.password}, nullptr);
}

void RedisPublisher::publish(const conf::RedisConfig& config, const io::SocketAddress& address,
                             std::string_view channel, std::string_view message, Done done) {
  if (!conn_ || target_ != address.toString() + " " + config.password) connect(config, address);
  if (!conn_) {
    // Said from the loop, as every answer is.
    loop_.post([done = std::move(done)] { done({false, 0, "cannot connect to Redis"}); });
    return;
  }
  command({"PUBLISH", config.prefix + std::string(channel), message}, std::move(done));
}

void RedisPublisher::command(std::initializer_list<std::string_view> args, Done done) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  const int n =
      redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (n < 0) throw std::bad_alloc();
  const std::string_view bytes(cmd, static_cast<std::size_t>(n));
  if (connected_) {
    loop_.output(conn_).write(std::as_bytes(std::span(bytes)));
    loop_.output(conn_).commit();
    loop_.flush(conn_);
  } else {
    backlog_.append(bytes);
  }
  redisFreeCommand(cmd);
  pending_.push_back({std::move(done), loop_.now()});
  if (!timer_.scheduled()) loop_.timers().scheduleIn(timer_, kTimeoutMs / 4);
}

void RedisPublisher::onConnected(io::ConnId id, int error) {
  if (id != conn_) return;
  if (error != 0) return failAll(std::string("cannot connect to Redis: ") + std::strerror(-error));
  connected_ = true;
  loop_.output(conn_).write(std::as_bytes(std::span(backlog_)));
  loop_.output(conn_).commit();
  loop_.flush(conn_);
  backlog_ = {};
}

void RedisPublisher::onData(io::ConnId id, std::span<std::byte> data) {
  if (id != conn_ || !reader_) return;
  if (redisReaderFeed(reader_, reinterpret_cast<const char*>(data.data()), data.size()) !=
      REDIS_OK) {
    return failAll(std::string("a bad reply from Redis: ") + reader_->errstr);
  }
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
      return failAll(std::string("a bad reply from Redis: ") + reader_->errstr);
    }
    if (!raw) return;
    std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                       freeReplyObject);
    if (pending_.empty()) return failAll("Redis answered what was never asked");
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    const bool error = reply->type == REDIS_REPLY_ERROR;
    const std::string text = reply->str ? std::string(reply->str, reply->len) : std::string();
    if (!p.done) {
      if (error) return failAll("Redis refused AUTH: " + text);
      continue;
    }
    if (error) {
      p.done({false, 0, "Redis: " + text});
    } else if (reply->type == REDIS_REPLY_INTEGER) {
      p.done({true, reply->integer, {}});
    } else {
      p.done({false, 0, "an unexpected reply to PUBLISH"});
    }
  }
}

void RedisPublisher::onReadEnd(io::ConnId id, int error) {
  if (id != conn_) return;
  failAll(error != 0 ? std::string("Redis: ") + std::strerror(-error)
                     : std::string("Redis closed the connection"));
}

void RedisPublisher::onClosed(io::ConnId id) {
  if (id == conn_) conn_ = {};
}

void RedisPublisher::onTimer(io::Timer&) {
  if (pending_.empty()) return;
  if (loop_.now() - pending_.front().sentAt >= kTimeoutMs) {
    return failAll("no answer from Redis within 2 s");
  }
  loop_.timers().scheduleIn(timer_, kTimeoutMs / 4);
}

void RedisPublisher::failAll(const std::string& why) {
  if (conn_) loop_.close(conn_, false);
  conn_ = {};
  connected_ = false;
  target_.clear();
  backlog_.clear();
  if (reader_) redisReaderFree(reader_);
  reader_ = nullptr;
  timer_.cancel();
  // A caller may publish again from its callback: the list is taken first.
  std::deque<Pending> failed = std::move(pending_);
  pending_.clear();
  for (Pending& p : failed) {
    if (p.done) p.done({false, 0, why});
  }
}

}  // namespace wsedge::pubsub
