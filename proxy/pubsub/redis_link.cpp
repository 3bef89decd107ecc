#include "proxy/pubsub/redis_link.h"

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "proxy/log.h"
#include "proxy/pubsub/redis_message.h"

namespace wsedge::pubsub {

namespace {

constexpr std::size_t kSubscribeBatch = 512;  // channels per SUBSCRIBE

std::string_view text(const ::redisReply& r) {
  return r.str ? std::string_view(r.str, r.len) : std::string_view();
}

bool isString(const ::redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

}  // namespace

RedisLink::RedisLink(io::Loop& loop, Hub& hub, telemetry::PushCounters& counters)
    : loop_(loop), hub_(hub), counters_(counters), conn_(loop, *this), retry_(this), tick_(this) {
  hub_.setObserver(this);
}

RedisLink::~RedisLink() {
  stop();
  hub_.setObserver(nullptr);
}

void RedisLink::configure(const conf::RedisConfig* config, const io::SocketAddress* address,
                          std::uint64_t maxMessage) {
  maxMessage_ = maxMessage;
  if (!config || !address) {
    if (config_) WSEDGE_LOG(kInfo, "redis: no longer configured; the in-process bus serves");
    stop();
    config_.reset();
    return;
  }
  if (config_ && config_->prefix == config->prefix && config_->password == config->password &&
      address_.toString() == address->toString()) {
    return;
  }
  stop();
  config_ = *config;
  address_ = *address;
  backoffMs_ = kFirstBackoffMs;
  connect();
  loop_.timers().scheduleIn(tick_, 1000);
}

void RedisLink::stop() {
  state_ = State::kOff;
  retry_.cancel();
  tick_.cancel();
  conn_.close();
  lingering_.clear();
  counters_.redisUp = 0;
}

void RedisLink::connect() {
  pingOut_ = false;
  state_ = State::kConnecting;
  std::string error;
  if (!conn_.open(address_, &error)) return lost(error);
  // Sent once the connection is up; a refused AUTH answers with an error.
  state_ = State::kGreeting;
  if (!config_->password.empty()) conn_.command({"AUTH", config_->password});
  subscribeAll();
  ping();  // its answer says the link is up
}

void RedisLink::lost(std::string_view why) {
  if (state_ == State::kOff || state_ == State::kWaiting) return;
  ++counters_.redisFailures;
  counters_.redisUp = 0;
  if (!outageLogged_) {
    WSEDGE_LOG(kWarn, "redis %s: %.*s; subscribers stay connected, retrying (up to every %llu ms)",
               config_->address.c_str(), static_cast<int>(why.size()), why.data(),
               static_cast<unsigned long long>(kMaxBackoffMs));
    outageLogged_ = true;
  }
  conn_.close();
  lingering_.clear();  // a new connection subscribes only what is live
  state_ = State::kWaiting;
  // Jitter: the workers of a fleet do not all come back in one instant.
  const std::uint64_t jitter = (reinterpret_cast<std::uintptr_t>(this) >> 4) % (backoffMs_ / 4 + 1);
  loop_.timers().scheduleIn(retry_, backoffMs_ + jitter);
  backoffMs_ = std::min(backoffMs_ * 2, kMaxBackoffMs);
}

void RedisLink::subscribeAll() {
  std::vector<std::string> args{"SUBSCRIBE"};
  hub_.forEachChannel([&](const std::string& c) {
    args.push_back(config_->prefix + c);
    if (args.size() > kSubscribeBatch) {
      conn_.command(args);
      args.resize(1);
    }
  });
  if (args.size() > 1) conn_.command(args);
}

void RedisLink::onReply(const ::redisReply& reply) {
  if (reply.type == REDIS_REPLY_ERROR) return lost("Redis says: " + std::string(text(reply)));
  if (reply.type == REDIS_REPLY_STATUS) {
    if (text(reply) != "PONG") return;  // +OK to AUTH
  } else if (reply.type == REDIS_REPLY_ARRAY && reply.elements >= 1 && isString(reply.element[0])) {
    const std::string_view kind = text(*reply.element[0]);
    if (kind == "message" && reply.elements == 3 && isString(reply.element[1]) &&
        isString(reply.element[2])) {
      const std::string_view channel = text(*reply.element[1]);
      if (channel.substr(0, config_->prefix.size()) != config_->prefix) return;
      const BusMessage m = decodeBusMessage(std::as_bytes(std::span(text(*reply.element[2]))));
      if (m.payload.size() > maxMessage_) {
        ++counters_.tooLarge;
        if (!tooLargeLogged_) {
          WSEDGE_LOG(kWarn,
                     "redis: a message of %zu bytes on %.*s is larger than pubsub.queue (%llu): "
                     "dropped (later ones are dropped without a word; wsedge_push_dropped_total "
                     "counts them)",
                     m.payload.size(), static_cast<int>(channel.size()), channel.data(),
                     static_cast<unsigned long long>(maxMessage_));
          tooLargeLogged_ = true;
        }
        return;
      }
      const auto start = std::chrono::steady_clock::now();
      ++counters_.fromRedis;
      counters_.deliveries +=
          hub_.publish(channel.substr(config_->prefix.size()), m.payload, m.binary);
      counters_.fanout.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      return;
    }
    if (kind != "pong") return;  // (un)subscribe confirmations
  } else {
    return;
  }
  // A PONG: the link answers.
  pingOut_ = false;
  if (state_ == State::kGreeting) {
    state_ = State::kReady;
    ++counters_.redisConnects;
    counters_.redisUp = 1;
    backoffMs_ = kFirstBackoffMs;
    std::size_t n = 0;
    hub_.forEachChannel([&](const std::string&) { ++n; });
    if (outageLogged_) {
      WSEDGE_LOG(kInfo, "redis %s: connected again; channels subscribed: %zu",
                 config_->address.c_str(), n);
    }
    outageLogged_ = false;
  }
}

void RedisLink::channelOpened(const std::string& channel) {
  ++counters_.channels;
  if (lingering_.erase(channel) > 0) return;  // still subscribed
  if (state_ == State::kGreeting || state_ == State::kReady) {
    conn_.command({"SUBSCRIBE", config_->prefix + channel});
  }
}

void RedisLink::channelClosed(const std::string& channel) {
  --counters_.channels;
  if (state_ == State::kGreeting || state_ == State::kReady) {
    lingering_[channel] = loop_.now() + kLingerMs;
  }
}

void RedisLink::sweep() {
  if (lingering_.empty()) return;
  const std::uint64_t now = loop_.now();
  std::vector<std::string> args{"UNSUBSCRIBE"};
  for (auto it = lingering_.begin(); it != lingering_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    args.push_back(config_->prefix + it->first);
    it = lingering_.erase(it);
    if (args.size() > kSubscribeBatch) {
      conn_.command(args);
      args.resize(1);
    }
  }
  if (args.size() > 1) conn_.command(args);
}

void RedisLink::onTimer(io::Timer& timer) {
  if (&timer == &retry_) {
    if (state_ == State::kWaiting) connect();
    return;
  }
  loop_.timers().scheduleIn(tick_, 1000);
  if (state_ != State::kReady && state_ != State::kGreeting) return;
  sweep();
  const std::uint64_t now = loop_.now();
  if (pingOut_) {
    // Behind a backlog of messages a PONG may be slow; silence this long is not.
    if (now - pingAt_ > kPingTimeoutMs) lost("no answer to PING");
  } else if (now - pingAt_ >= kPingEveryMs) {
    ping();
  }
}

void RedisLink::ping() {
  conn_.command({"PING"});
  pingOut_ = true;
  pingAt_ = loop_.now();
}

}  // namespace wsedge::pubsub
