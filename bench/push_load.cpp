#include "bench/push_load.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstring>
#include <deque>
#include <set>

#include "proxy/http/accept_key.h"
#include "proxy/http/handshake_writer.h"
#include "proxy/http/response_parser.h"
#include "proxy/transport/network.h"
#include "proxy/transport/tls_connection.h"
#include "proxy/ws/frame_parser.h"
#include "proxy/ws/frame_writer.h"
#include "proxy/ws/mask_key.h"
#include "tls/server_context.h"

namespace wsedge::bench {

using ws::FrameHeader;
using ws::Opcode;

void PushResults::merge(const PushResults& o) {
  latency.merge(o.latency);
  upgraded += o.upgraded;
  connectFailures += o.connectFailures;
  handshakeFailures += o.handshakeFailures;
  deliveries += o.deliveries;
  windowDeliveries += o.windowDeliveries;
  lost += o.lost;
  lostToClose += o.lostToClose;
  duplicates += o.duplicates;
  reordered += o.reordered;
  malformed += o.malformed;
  for (const auto& [code, n] : o.closes) closes[code] += n;
  for (const std::string& e : o.errorSamples) noteError(e);
}

void PushResults::noteError(std::string message) {
  if (errorSamples.size() < 5) errorSamples.push_back(std::move(message));
}

std::string pushMessage(std::uint32_t channel, std::uint64_t seq, std::uint64_t ns,
                        std::uint32_t size) {
  std::string m =
      std::to_string(channel) + " " + std::to_string(seq) + " " + std::to_string(ns) + " ";
  if (m.size() < size) m.append(size - m.size(), 'x');
  return m;
}

namespace {

// "CHANNEL SEQ NS " at the start of a message.
bool parseMessage(std::string_view m, std::uint32_t* channel, std::uint64_t* seq,
                  std::uint64_t* ns) {
  const char* p = m.data();
  const char* end = p + m.size();
  for (auto* out : {static_cast<void*>(channel), static_cast<void*>(seq), static_cast<void*>(ns)}) {
    std::uint64_t v = 0;
    const auto r = std::from_chars(p, end, v);
    if (r.ec != std::errc() || r.ptr == end || *r.ptr != ' ') return false;
    if (out == channel) {
      *channel = static_cast<std::uint32_t>(v);
    } else {
      *static_cast<std::uint64_t*>(out) = v;
    }
    p = r.ptr + 1;
  }
  return true;
}

std::string withChannel(const std::string& pattern, const std::string& channel) {
  const std::size_t at = pattern.find("{channel}");
  if (at != std::string::npos) return pattern.substr(0, at) + channel + pattern.substr(at + 9);
  return pattern + (pattern.empty() || pattern.back() != '/' ? "/" : "") + channel;
}

constexpr std::uint32_t kMaxConnecting = 256;  // handshakes in flight per thread
constexpr std::size_t kMaxMessage = 16 << 20;
constexpr std::size_t kMaxTracked = 100000;  // missing sequence numbers kept per subscriber

}  // namespace

class PushSubscribers final : public io::Worker::App {
 public:
  PushSubscribers(io::Loop& loop, const PushConfig& config, std::uint32_t thread,
                  PushShared& shared, PushResults& results)
      : loop_(loop), net_(loop), config_(config), shared_(shared), results_(results) {
    for (std::uint32_t i = thread; i < config.subscribers; i += config.threads) {
      subs_.push_back(std::make_unique<Sub>(*this, i % config.channels));
    }
    if (config.target.tls) {
      std::string error;
      tlsContext_ = tls::makeClientContext(config.caFile, config.insecure, &error);
      if (!tlsContext_) throw std::runtime_error(error);
    }
    loop_.setIterationHook([this] { return iterate(); });
  }
  ~PushSubscribers() override {
    for (auto& s : subs_) transport::close(s->conn, false);
  }

  /// Publishing is over: the tally, then every connection closes.
  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    for (auto& sp : subs_) {
      Sub& s = *sp;
      if (!s.upgraded) continue;
      const std::uint64_t expected = shared_.perChannel[s.channel].load();
      // Gaps never filled, and the tail that never came.
      const std::uint64_t missing =
          s.missing.size() + s.untracked + (expected > s.next ? expected - s.next : 0);
      if (s.closedByServer) {
        results_.lostToClose += missing;
      } else {
        results_.lost += missing;
      }
      transport::close(s.conn, false);
    }
    loop_.quit();
  }

 private:
  struct Sub final : transport::Handler {
    PushSubscribers& owner;
    std::uint32_t channel;
    transport::ConnectionPtr conn;
    std::string key;
    std::unique_ptr<http::UpgradeResponseParser> response;
    ws::ClientFrameParser parser;
    std::string message;
    bool upgraded = false, closedByServer = false, closeSent = false, connecting = false;
    std::uint64_t next = 0;           // the sequence number expected next
    std::set<std::uint64_t> missing;  // below next, not (yet) received
    std::uint64_t untracked = 0;      // missing beyond kMaxTracked

    Sub(PushSubscribers& o, std::uint32_t ch) : owner(o), channel(ch) {}
    void onConnected(int error) override { owner.connected(*this, error); }
    void onSecured() override { owner.sendUpgrade(*this); }
    void onData(std::span<std::byte> data) override { owner.data(*this, data); }
    void onReadEnd(int error) override { owner.ended(*this, error); }
    void onDrained() override {}
  };

  struct Sink {
    PushSubscribers& o;
    Sub& s;
    void onFrameStart(const FrameHeader& h) {
      if (h.opcode != Opcode::kContinuation) s.message.clear();
    }
    void onPayload(std::span<std::byte> data) {
      if (s.message.size() + data.size() <= kMaxMessage) {
        s.message.append(reinterpret_cast<const char*>(data.data()), data.size());
      }
    }
    void onFrameEnd(const FrameHeader& h) {
      if (h.fin) o.received(s);
    }
    void onControl(Opcode op, std::span<const std::byte> payload) {
      if (op == Opcode::kPing) o.sendFrame(s, Opcode::kPong, payload);
    }
    void onClose(std::uint16_t code, std::string_view) {
      s.closedByServer = true;
      ++o.results_.closes[code];
      if (!s.closeSent) {
        std::byte p[2] = {std::byte(code >> 8), std::byte(code & 0xff)};
        o.sendFrame(s, Opcode::kClose, code == 1005 ? std::span<const std::byte>() : p);
        s.closeSent = true;
      }
    }
  };

  std::uint64_t iterate() {
    while (!stopped_ && opened_ < subs_.size() && connecting_ < kMaxConnecting) {
      open(*subs_[opened_++]);
    }
    return 0;
  }

  void open(Sub& s) {
    int error = 0;
    transport::ConnectionPtr tcp = net_.connect(config_.target.address, s, &error);
    if (!tcp) return failed(s, std::string("cannot connect: ") + std::strerror(-error), true);
    if (tlsContext_) {
      s.conn = transport::secure(
          std::move(tcp),
          tls::newClientSsl(tlsContext_.get(), config_.target.serverName, !config_.insecure),
          loop_.chunkPool());
      s.conn->setHandler(s);
    } else {
      s.conn = std::move(tcp);
    }
    s.connecting = true;
    ++connecting_;
  }

  void failed(Sub& s, std::string why, bool connect) {
    ++(connect ? results_.connectFailures : results_.handshakeFailures);
    results_.noteError(std::move(why));
    shared_.failed.fetch_add(1, std::memory_order_relaxed);
    if (s.connecting) --connecting_;
    s.connecting = false;
    transport::close(s.conn, false);
  }

  void connected(Sub& s, int error) {
    if (error != 0) {
      return failed(
          s, "connect to " + config_.target.address.toString() + ": " + std::strerror(-error),
          true);
    }
    if (!tlsContext_) sendUpgrade(s);
  }

  void sendUpgrade(Sub& s) {
    s.key = http::generateClientKey();
    const std::string path = withChannel(config_.target.path, config_.channelName(s.channel));
    std::string request;
    http::writeUpgradeRequest(request, {path, config_.target.hostHeader, s.key, {}, "", ""});
    s.conn->output().write(std::as_bytes(std::span(request)));
    s.conn->output().commit();
    s.conn->flush();
    s.response = std::make_unique<http::UpgradeResponseParser>();
  }

  void data(Sub& s, std::span<std::byte> bytes) {
    if (!s.upgraded) {
      const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      const std::size_t used = s.response->feed(text);
      if (s.response->state() == http::UpgradeResponseParser::State::kIncomplete) return;
      const http::UpgradeOffer offer{s.key, {}, {}};
      if (s.response->state() == http::UpgradeResponseParser::State::kError ||
          s.response->verify(offer) != http::ResponseVerdict::kAccepted) {
        return failed(s, "the upgrade was refused: HTTP " + std::to_string(s.response->status()),
                      false);
      }
      s.response.reset();
      s.upgraded = true;
      s.connecting = false;
      --connecting_;
      ++results_.upgraded;
      shared_.upgraded.fetch_add(1, std::memory_order_relaxed);
      bytes = bytes.subspan(used);
      if (bytes.empty()) return;
    }
    Sink sink{*this, s};
    if (s.parser.feed(bytes, sink) == ws::ParseStatus::kError) {
      ++results_.malformed;
      results_.noteError(std::string("a frame broke RFC 6455: ") +
                         std::string(s.parser.error().reason));
      transport::close(s.conn, false);
    }
  }

  void received(Sub& s) {
    const std::uint64_t now = monotonicNs();
    std::uint32_t channel = 0;
    std::uint64_t seq = 0, ns = 0;
    if (!parseMessage(s.message, &channel, &seq, &ns) || channel != s.channel) {
      ++results_.malformed;
      results_.noteError("a message that is not one of ours, or of another channel: " +
                         s.message.substr(0, 40));
      return;
    }
    ++results_.deliveries;
    shared_.deliveries.fetch_add(1, std::memory_order_relaxed);
    if (now >= shared_.windowStart && now < shared_.windowEnd) ++results_.windowDeliveries;
    // Latency of the messages published in the window.
    if (ns >= shared_.windowStart && ns < shared_.windowEnd) {
      results_.latency.record(now > ns ? now - ns : 0);
    }
    if (seq == s.next) {
      ++s.next;
    } else if (seq > s.next) {
      // A gap: missing until (unless) they arrive late.
      for (std::uint64_t m = s.next; m < seq; ++m) {
        if (s.missing.size() < kMaxTracked) {
          s.missing.insert(m);
        } else {
          ++s.untracked;
        }
      }
      s.next = seq + 1;
    } else if (s.missing.erase(seq) > 0) {
      ++results_.reordered;  // it came after a later one
    } else {
      ++results_.duplicates;
    }
  }

  void ended(Sub& s, int error) {
    if (s.connecting) {
      return failed(s,
                    std::string("the connection ended before the upgrade: ") +
                        (error ? std::strerror(-error) : "EOF"),
                    false);
    }
    if (!s.closedByServer && !stopped_) {
      s.closedByServer = true;
      ++results_.closes[1006];
      results_.noteError("a subscriber's connection dropped without a close frame");
    }
    transport::close(s.conn, false);
  }

  void sendFrame(Sub& s, Opcode op, std::span<const std::byte> payload) {
    if (!s.conn) return;
    FrameHeader h;
    h.opcode = op;
    h.masked = true;
    h.mask = masks_.next();
    h.length = payload.size();
    io::SendQueue& q = s.conn->output();
    std::byte* p = q.reserve(ws::frameHeaderSize(h.length, true) + payload.size());
    p += ws::writeFrameHeader(p, h);
    ws::applyMaskCopy(p, payload, h.mask, 0);
    q.commit();
    s.conn->flush();
  }

  io::Loop& loop_;
  transport::LoopNetwork net_;
  const PushConfig& config_;
  PushShared& shared_;
  PushResults& results_;
  ws::MaskKeySource masks_;
  bssl::UniquePtr<SSL_CTX> tlsContext_;
  std::vector<std::unique_ptr<Sub>> subs_;
  std::size_t opened_ = 0;
  std::uint32_t connecting_ = 0;
  bool stopped_ = false;
};

// Publishes on schedule: message k (over every channel) is due at
// start + k / rate, on channel k % channels. Over Redis the commands are
// pipelined on one connection; over HTTP each connection carries the
// channels c with c % publishers == its index (so one channel's order is
// one connection's), one request at a time.
class PushPublisher final : public io::Worker::App {
 public:
  PushPublisher(io::Loop& loop, const PushConfig& config, PushShared& shared)
      : loop_(loop), net_(loop), config_(config), shared_(shared) {
    const std::uint32_t n = config.via == PushConfig::Via::kRedis ? 1 : config.publishers;
    for (std::uint32_t i = 0; i < n; ++i) lines_.push_back(std::make_unique<Line>(*this, i));
    for (auto& l : lines_) connect(*l);
    interval_ = static_cast<std::uint64_t>(1e9 / config.rate);
    loop_.setIterationHook([this] { return iterate(); });
  }
  ~PushPublisher() override {
    for (auto& l : lines_) {
      transport::close(l->conn, false);
      if (l->reader) redisReaderFree(l->reader);
    }
  }
  void stop() override {
    std::uint64_t unsent = unsent_;
    for (auto& l : lines_) {
      unsent += l->waiting.size();  // the server took them slower than the schedule
      l->up = false;
      transport::close(l->conn, false);
    }
    shared_.unsent = unsent;
    loop_.quit();
  }

 private:
  struct Line final : transport::Handler {
    PushPublisher& p;
    std::uint32_t index;
    transport::ConnectionPtr conn;
    bool up = false;
    redisReader* reader = nullptr;
    std::deque<std::pair<std::uint32_t, std::string>> waiting;  // HTTP: (channel, request) unsent
    bool inFlight = false;
    std::unique_ptr<http::UpgradeResponseParser> response;
    std::uint64_t bodyLeft = 0;
    bool closeAfter = false;        // the response said Connection: close
    std::uint32_t outstanding = 0;  // Redis: replies to come

    Line(PushPublisher& o, std::uint32_t i) : p(o), index(i) {}
    void onConnected(int error) override { p.connected(*this, error); }
    void onData(std::span<std::byte> data) override { p.data(*this, data); }
    void onReadEnd(int error) override {
      // An HTTP server may end a keep-alive connection between requests.
      if (error == 0 && !inFlight && p.config_.via == PushConfig::Via::kHttp) {
        return p.reconnect(*this);
      }
      p.error(*this, std::string("the publisher's connection ended: ") +
                         (error ? std::strerror(-error) : "EOF"));
    }
    void onDrained() override {}
  };

  void connect(Line& l) {
    int error = 0;
    l.conn = net_.connect(config_.publishAddress, l, &error);
    if (!l.conn) this->error(l, std::string("cannot connect: ") + std::strerror(-error));
    if (config_.via == PushConfig::Via::kRedis && !l.reader) l.reader = redisReaderCreate();
  }

  void reconnect(Line& l) {
    l.up = false;
    transport::close(l.conn, false);
    connect(l);
  }

  void connected(Line& l, int error) {
    if (error != 0) {
      return this->error(l, "cannot connect to the publisher's address " +
                                config_.publishAddress.toString() + ": " + std::strerror(-error));
    }
    l.up = true;
    send(l);
  }

  void error(Line& l, std::string why) {
    shared_.publishErrors.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(shared_.mutex);
      if (shared_.publishErrorSamples.size() < 5) shared_.publishErrorSamples.push_back(why);
    }
    l.up = false;
    transport::close(l.conn, false);
  }

  std::uint64_t iterate() {
    const std::uint64_t now = monotonicNs();
    if (startNs_ == 0) {
      if (!shared_.publishing.load()) return 0;
      startNs_ = shared_.publishStart;
      end_ = startNs_ + config_.warmupNs + config_.durationNs;
    }
    while (next_ * interval_ + startNs_ <= now && next_ * interval_ + startNs_ < end_) {
      const std::uint64_t due = startNs_ + next_ * interval_;
      const auto channel = static_cast<std::uint32_t>(next_ % config_.channels);
      ++next_;
      publish(channel, due);
    }
    for (auto& l : lines_) send(*l);
    if (next_ * interval_ + startNs_ >= end_) {
      if (!shared_.publishDone.load()) shared_.publishDone = true;
      return 0;
    }
    const std::uint64_t due = startNs_ + next_ * interval_;
    return due > now ? due - now : 1;
  }

  // A message is counted as published (its channel's subscribers expect
  // it) once it is written to the publisher's connection.
  void publish(std::uint32_t channel, std::uint64_t due) {
    const std::string name = config_.channelName(channel);
    if (config_.via == PushConfig::Via::kRedis) {
      Line& l = *lines_[0];
      if (!l.up) {
        ++unsent_;
        return;
      }
      const std::string message = pushMessage(channel, seqs_[channel]++, due, config_.size);
      const std::string key = config_.publishPath + name;
      const char* argv[3] = {"PUBLISH", key.data(), message.data()};
      const std::size_t lens[3] = {7, key.size(), message.size()};
      char* cmd = nullptr;
      const int n = redisFormatCommandArgv(&cmd, 3, argv, lens);
      l.conn->output().write(std::as_bytes(std::span(cmd, static_cast<std::size_t>(n))));
      redisFreeCommand(cmd);
      ++l.outstanding;
      shared_.perChannel[channel].fetch_add(1, std::memory_order_relaxed);
      shared_.published.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // Its sequence number now, so that the channel's order is the schedule's.
    const std::string message = pushMessage(channel, seqs_[channel]++, due, config_.size);
    const std::string path = withChannel(config_.publishPath, name);
    lines_[channel % lines_.size()]->waiting.push_back(
        {channel, "POST " + path + " HTTP/1.1\r\nHost: " + config_.publishHost +
                      "\r\nContent-Type: text/plain\r\nContent-Length: " +
                      std::to_string(message.size()) + "\r\n\r\n" + message});
  }

  void send(Line& l) {
    if (!l.up || !l.conn) return;
    if (config_.via == PushConfig::Via::kRedis) {
      l.conn->output().commit();
      l.conn->flush();
      return;
    }
    if (l.inFlight || l.waiting.empty()) return;
    const auto& [channel, request] = l.waiting.front();
    l.conn->output().write(std::as_bytes(std::span(request)));
    l.conn->output().commit();
    l.conn->flush();
    shared_.perChannel[channel].fetch_add(1, std::memory_order_relaxed);
    shared_.published.fetch_add(1, std::memory_order_relaxed);
    l.waiting.pop_front();
    l.inFlight = true;
    l.response = std::make_unique<http::UpgradeResponseParser>();
  }

  void data(Line& l, std::span<std::byte> bytes) {
    if (config_.via == PushConfig::Via::kRedis) {
      redisReaderFeed(l.reader, reinterpret_cast<const char*>(bytes.data()), bytes.size());
      void* reply = nullptr;
      while (redisReaderGetReply(l.reader, &reply) == REDIS_OK && reply) {
        const auto* r = static_cast<redisReply*>(reply);
        if (r->type == REDIS_REPLY_ERROR) {
          shared_.publishErrors.fetch_add(1, std::memory_order_relaxed);
          std::lock_guard lock(shared_.mutex);
          if (shared_.publishErrorSamples.size() < 5) {
            shared_.publishErrorSamples.push_back(std::string("Redis: ") + r->str);
          }
        }
        freeReplyObject(reply);
        --l.outstanding;
      }
      return;
    }
    std::string_view in(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    while (!in.empty() && l.inFlight) {
      if (l.response) {
        in.remove_prefix(l.response->feed(in));
        if (l.response->state() == http::UpgradeResponseParser::State::kIncomplete) return;
        if (l.response->state() == http::UpgradeResponseParser::State::kError) {
          return error(l, "the publisher's answer is not HTTP");
        }
        const int status = l.response->status();
        const auto length = l.response->head().find("Content-Length");
        if (status < 200 || status > 299) {
          // Counted, and the connection goes on: its subscribers miss it.
          shared_.publishErrors.fetch_add(1, std::memory_order_relaxed);
          std::lock_guard lock(shared_.mutex);
          if (shared_.publishErrorSamples.size() < 5) {
            shared_.publishErrorSamples.push_back("a publish was answered HTTP " +
                                                  std::to_string(status));
          }
        }
        l.bodyLeft = 0;
        if (length) std::from_chars(length->data(), length->data() + length->size(), l.bodyLeft);
        const auto connection = l.response->head().find("Connection");
        l.closeAfter = connection && http::listContainsToken(*connection, "close");
        l.response.reset();
      }
      const std::size_t take = std::min<std::uint64_t>(l.bodyLeft, in.size());
      in.remove_prefix(take);
      l.bodyLeft -= take;
      if (l.bodyLeft == 0) {
        l.inFlight = false;
        if (l.closeAfter) return reconnect(l);
        send(l);
      }
    }
  }

  io::Loop& loop_;
  transport::LoopNetwork net_;
  const PushConfig& config_;
  PushShared& shared_;
  std::uint64_t startNs_ = 0;  // 0: not publishing yet
  std::uint64_t interval_ = 0;
  std::uint64_t end_ = 0;
  std::uint64_t next_ = 0;
  std::map<std::uint32_t, std::uint64_t> seqs_;
  std::uint64_t unsent_ = 0;  // due while the publisher's connection was down
  std::vector<std::unique_ptr<Line>> lines_;
};

std::shared_ptr<io::Worker::App> makeSubscribers(io::Loop& loop, const PushConfig& config,
                                                 std::uint32_t thread, PushShared& shared,
                                                 PushResults& results) {
  return std::make_shared<PushSubscribers>(loop, config, thread, shared, results);
}

std::shared_ptr<io::Worker::App> makePublisher(io::Loop& loop, const PushConfig& config,
                                               PushShared& shared) {
  return std::make_shared<PushPublisher>(loop, config, shared);
}

}  // namespace wsedge::bench
