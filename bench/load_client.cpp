#include "bench/load_client.h"

#include <time.h>

#include <algorithm>
#include <cstring>

#include "proxy/http/accept_key.h"
#include "proxy/http/handshake_writer.h"
#include "proxy/transport/tls_connection.h"
#include "proxy/ws/frame_writer.h"

namespace wsedge::bench {

using ws::FrameHeader;
using ws::Opcode;

std::uint64_t monotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000 +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

namespace {
constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kDrainNs = 2 * kSecond;  // after the window: wait this long for echoes
constexpr std::uint64_t kCloseNs = 2 * kSecond;  // then this long for close handshakes
constexpr std::size_t kMaxErrorSamples = 8;
}  // namespace

void RunResults::merge(const RunResults& o) {
  latency.merge(o.latency);
  connect.merge(o.connect);
  tls.merge(o.tls);
  handshake.merge(o.handshake);
  messages += o.messages;
  bytes += o.bytes;
  handshakes += o.handshakes;
  upgraded += o.upgraded;
  sent += o.sent;
  mismatches += o.mismatches;
  reorders += o.reorders;
  connectFailures += o.connectFailures;
  handshakeFailures += o.handshakeFailures;
  unexpectedCloses += o.unexpectedCloses;
  protocolErrors += o.protocolErrors;
  missedSends += o.missedSends;
  tlsResumed += o.tlsResumed;
  if (tlsVersion.empty()) tlsVersion = o.tlsVersion;
  if (tlsCipher.empty()) tlsCipher = o.tlsCipher;
  for (const auto& [code, n] : o.closeCodes) closeCodes[code] += n;
  for (const std::string& e : o.errorSamples) {
    if (errorSamples.size() < kMaxErrorSamples) errorSamples.push_back(e);
  }
}

void RunResults::noteError(std::string message) {
  if (errorSamples.size() < kMaxErrorSamples) errorSamples.push_back(std::move(message));
}

struct LoadClient::Conn final : transport::Handler {
  LoadClient& lc;
  std::uint32_t index;
  enum class State : std::uint8_t {
    kIdle,
    kConnecting,
    kTls,
    kUpgrading,
    kOpen,
    kClosing
  } state = State::kIdle;
  transport::ConnectionPtr conn;  // null while idle
  std::uint64_t tlsStart = 0;
  std::uint64_t ticketsBefore = 0;  // --mode tls --tls-resume: wait for this count to grow
  bool awaitingTicket = false;
  std::string key;
  std::unique_ptr<http::UpgradeResponseParser> response;
  ws::ClientFrameParser parser;
  std::deque<Outstanding> outstanding;
  Payload::Checker checker;
  bool inMessage = false;
  bool wrongOpcode = false;
  bool closeSent = false;
  bool closeReceived = false;
  bool upgraded = false;  // this cycle completed its handshake
  std::uint64_t nextSeq = 0;
  std::uint64_t connectStart = 0;
  std::uint64_t upgradeStart = 0;

  Conn(LoadClient& client, std::uint32_t i) : lc(client), index(i) {}

  void onConnected(int error) override { lc.onConnected(*this, error); }
  void onData(std::span<std::byte> data) override { lc.onData(*this, data); }
  void onReadEnd(int error) override { lc.onReadEnd(*this, error); }
  void onDrained() override {}
  void onSecured() override { lc.onSecured(*this); }
};

// The server's frames, as the client's parser reports them.
struct LoadClient::Sink {
  LoadClient& lc;
  Conn& c;
  std::uint64_t now;

  void onFrameStart(const FrameHeader& h) {
    if (h.opcode == Opcode::kContinuation) return;
    if (c.outstanding.empty()) {
      ++lc.results_.protocolErrors;
      lc.results_.noteError("a message arrived that was never sent");
      c.inMessage = false;
      return;
    }
    const Outstanding& o = c.outstanding.front();
    c.checker.begin(lc.payload_, o.seq, o.size);
    c.inMessage = true;
    c.wrongOpcode = (h.opcode == Opcode::kText) != lc.config_.text;
  }

  void onPayload(std::span<std::byte> data) {
    if (c.inMessage) c.checker.feed(data);
  }

  void onFrameEnd(const FrameHeader& h) {
    if (!h.fin || !c.inMessage) return;
    c.inMessage = false;
    const Outstanding o = c.outstanding.front();
    c.outstanding.pop_front();
    const Payload::Checker::Result r =
        c.wrongOpcode ? Payload::Checker::Result::kCorrupt : c.checker.finish();
    if (r == Payload::Checker::Result::kOk) {
      lc.progress_.messages.fetch_add(1, std::memory_order_relaxed);
      lc.progress_.bytes.fetch_add(o.size, std::memory_order_relaxed);
      if (lc.inWindow(now)) {
        ++lc.results_.messages;
        lc.results_.bytes += o.size;
        lc.results_.latency.record(now - o.intendedNs);
      }
    } else if (r == Payload::Checker::Result::kWrongSequence) {
      ++lc.results_.reorders;
      lc.progress_.errors.fetch_add(1, std::memory_order_relaxed);
      lc.results_.noteError("connection " + std::to_string(c.index) + ": expected message " +
                            std::to_string(o.seq) + ", got " +
                            std::to_string(c.checker.seqFound()));
    } else {
      ++lc.results_.mismatches;
      lc.progress_.errors.fetch_add(1, std::memory_order_relaxed);
      lc.results_.noteError("connection " + std::to_string(c.index) + ": echo of message " +
                            std::to_string(o.seq) + " differs from what was sent");
    }
    if (lc.config_.rate == 0 && !lc.ending_ && c.state == Conn::State::kOpen)
      lc.sendMessage(c, now);
  }

  void onControl(Opcode op, std::span<const std::byte> payload) {
    if (op == Opcode::kPing) lc.sendControl(c, Opcode::kPong, payload);
  }

  void onClose(std::uint16_t code, std::string_view reason) {
    c.closeReceived = true;
    if (!c.closeSent) {
      ++lc.results_.unexpectedCloses;
      ++lc.results_.closeCodes[code];
      lc.progress_.errors.fetch_add(1, std::memory_order_relaxed);
      lc.results_.noteError("server closed connection " + std::to_string(c.index) + " with " +
                            std::to_string(code) + " " + std::string(reason));
      lc.beginClose(c, code == 1005 ? 1000 : code);
    }
    lc.closeConn(c, true);
  }
};

LoadClient::LoadClient(io::Loop& loop, const RunConfig& config, std::uint32_t index,
                       std::uint32_t conns, std::uint64_t startNs, Progress& progress)
    : loop_(loop),
      net_(loop),
      config_(config),
      progress_(progress),
      payload_(*std::max_element(config.sizes.begin(), config.sizes.end()), config.text,
               0x5eed0000 + index),
      rng_(index * 7919 + 17),
      startNs_(startNs) {
  windowStart_ = startNs + config.warmupNs;
  windowEnd_ = windowStart_ + config.durationNs;
  drainEnd_ = windowEnd_ + kDrainNs;
  const double perThreadConnectRate = config.connectRate / config.threads;
  connectInterval_ =
      config.connectRate > 0 ? static_cast<std::uint64_t>(kSecond / perThreadConnectRate) : 0;
  if (config.rate > 0) {
    sendInterval_ =
        static_cast<std::uint64_t>(static_cast<double>(kSecond) * config.threads / config.rate);
    nextSend_ = startNs;
  }
  for (std::uint32_t i = 0; i < conns; ++i) {
    conns_.push_back(std::make_unique<Conn>(*this, index + i * config.threads));
  }
  if (config.target.tls) {
    std::string error;
    tlsContext_ = tls::makeClientContext(config.caFile, config.insecure, &error);
    if (!tlsContext_) throw std::runtime_error(error);
    if (config.tlsMaxVersion)
      SSL_CTX_set_max_proto_version(tlsContext_.get(), config.tlsMaxVersion);
  }
  loop_.setIterationHook([this] { return iterate(); });
  if (conns == 0) {
    progress_.finished = true;
    loop_.quit();
  }
}

LoadClient::~LoadClient() {
  for (auto& c : conns_) transport::close(c->conn, false);
}

void LoadClient::openConnection(std::uint32_t i) {
  Conn& c = *conns_[i];
  int error = 0;
  c.connectStart = monotonicNs();
  transport::ConnectionPtr tcp = net_.connect(config_.target.address, c, &error);
  if (!tcp) {
    ++results_.connectFailures;
    progress_.errors.fetch_add(1, std::memory_order_relaxed);
    results_.noteError(std::string("cannot create a socket: ") + std::strerror(-error));
    return;
  }
  if (tlsContext_) {
    bssl::UniquePtr<SSL> ssl =
        tls::newClientSsl(tlsContext_.get(), config_.target.serverName, !config_.insecure);
    if (config_.tlsResume) {
      if (SSL_SESSION* last = tls::latestSession(tlsContext_.get()))
        SSL_set_session(ssl.get(), last);
    }
    // The handshake starts by itself once TCP is up.
    c.conn = transport::secure(std::move(tcp), std::move(ssl), loop_.chunkPool());
    c.conn->setHandler(c);
  } else {
    c.conn = std::move(tcp);
  }
  c.state = Conn::State::kConnecting;
  // A storm reuses the Conn: everything per connection starts afresh.
  c.closeSent = c.closeReceived = c.inMessage = c.upgraded = c.awaitingTicket = false;
  c.outstanding.clear();
  c.parser.reset();
  c.nextSeq = 0;
  ++live_;
}

void LoadClient::closeConn(Conn& c, bool graceful) {
  if (!c.conn) return;
  transport::close(c.conn, graceful);
  c.state = Conn::State::kIdle;
  --live_;
  // Storm: the next connection starts as soon as one ends (but not after a
  // failure, which would spin against a refusing server), once the callback
  // that ended this one has returned.
  if ((config_.storm || config_.tlsOnly) && !ending_ && c.upgraded) {
    const std::uint32_t slot = c.index / config_.threads;
    loop_.post([this, slot] {
      if (!ending_ && !conns_[slot]->conn) openConnection(slot);
    });
  }
}

void LoadClient::onConnected(Conn& c, int error) {
  if (error != 0) {
    ++results_.connectFailures;
    progress_.errors.fetch_add(1, std::memory_order_relaxed);
    results_.noteError("connect to " + config_.target.address.toString() + ": " +
                       std::strerror(-error));
    return closeConn(c, false);
  }
  const std::uint64_t now = monotonicNs();
  results_.connect.record(now - c.connectStart);
  if (!tlsContext_) return sendUpgrade(c);
  c.tlsStart = now;
  c.state = Conn::State::kTls;
  c.ticketsBefore = tls::sessionsReceived(tlsContext_.get());
}

void LoadClient::onSecured(Conn& c) {
  const std::uint64_t now = monotonicNs();
  results_.tls.record(now - c.tlsStart);
  SSL* ssl = c.conn->ssl();
  if (SSL_session_reused(ssl)) ++results_.tlsResumed;
  if (results_.tlsVersion.empty()) {
    results_.tlsVersion = SSL_get_version(ssl);
    results_.tlsCipher = SSL_CIPHER_standard_name(SSL_get_current_cipher(ssl));
  }
  if (!config_.tlsOnly) return sendUpgrade(c);
  // Handshakes alone: count it, say goodbye, and start the next. To resume
  // TLS 1.3 later, first wait for the ticket, which the server sends only
  // after our Finished (closeTicketed() looks after each batch).
  progress_.handshakes.fetch_add(1, std::memory_order_relaxed);
  if (inWindow(now)) ++results_.handshakes;
  c.upgraded = true;
  c.state = Conn::State::kOpen;
  c.awaitingTicket = config_.tlsResume && SSL_version(ssl) >= TLS1_3_VERSION &&
                     tls::sessionsReceived(tlsContext_.get()) == c.ticketsBefore;
  if (!c.awaitingTicket) closeConn(c, true);
}

void LoadClient::closeTicketed() {
  if (!config_.tlsOnly || !config_.tlsResume) return;
  for (auto& cp : conns_) {
    Conn& c = *cp;
    if (c.awaitingTicket && tls::sessionsReceived(tlsContext_.get()) != c.ticketsBefore) {
      c.awaitingTicket = false;
      closeConn(c, true);
    }
  }
}

void LoadClient::sendUpgrade(Conn& c) {
  c.key = http::generateClientKey();
  std::vector<std::string_view> protocols(config_.subprotocols.begin(), config_.subprotocols.end());
  std::string request;
  http::writeUpgradeRequest(request, {config_.target.path, config_.target.hostHeader, c.key,
                                      protocols, "", config_.extraFields});
  io::SendQueue& q = c.conn->output();
  q.write(std::as_bytes(std::span(request)));
  q.commit();
  c.conn->flush();
  c.response = std::make_unique<http::UpgradeResponseParser>();
  c.upgradeStart = monotonicNs();
  c.state = Conn::State::kUpgrading;
}

void LoadClient::sendMessage(Conn& c, std::uint64_t intendedNs) {
  const std::uint32_t size =
      config_.sizes.size() == 1 ? config_.sizes[0] : config_.sizes[rng_() % config_.sizes.size()];
  const std::uint64_t seq = c.nextSeq++;
  FrameHeader h;
  h.opcode = config_.text ? Opcode::kText : Opcode::kBinary;
  h.masked = true;
  h.mask = masks_.next();  // a fresh key for every frame
  h.length = size;
  io::SendQueue& q = c.conn->output();
  std::byte* p = q.reserve(ws::frameHeaderSize(size, true) + size);
  p += ws::writeFrameHeader(p, h);
  std::byte head[24];
  const std::size_t hs = payload_.headerSize();
  payload_.writeHeader(head, size, seq);
  const std::size_t offset = ws::applyMaskCopy(p, {head, hs}, h.mask, 0);
  ws::applyMaskCopy(p + hs, {payload_.fill(seq), size - hs}, h.mask, offset);
  q.commit();
  c.conn->flush();
  c.outstanding.push_back({seq, intendedNs, size});
  ++results_.sent;
}

void LoadClient::sendControl(Conn& c, Opcode op, std::span<const std::byte> payload) {
  if (!c.conn) return;
  FrameHeader h;
  h.opcode = op;
  h.masked = true;
  h.mask = masks_.next();
  h.length = payload.size();
  io::SendQueue& q = c.conn->output();
  std::byte* p = q.reserve(ws::frameHeaderSize(h.length, true) + payload.size());
  p += ws::writeFrameHeader(p, h);
  ws::applyMaskCopy(p, payload, h.mask, 0);
  q.commit();
  c.conn->flush();
}

void LoadClient::beginClose(Conn& c, std::uint16_t code) {
  if (c.closeSent || !c.conn) return;
  std::byte payload[2];
  const std::size_t n = ws::writeClosePayload(payload, code, "");
  sendControl(c, Opcode::kClose, {payload, n});
  c.closeSent = true;
  c.state = Conn::State::kClosing;
}

void LoadClient::fail(Conn& c, std::uint16_t closeCode) {
  beginClose(c, closeCode);
  closeConn(c, true);
}

void LoadClient::onData(Conn& c, std::span<std::byte> data) {
  const std::uint64_t now = monotonicNs();
  if (c.state == Conn::State::kUpgrading) {
    const std::size_t used =
        c.response->feed({reinterpret_cast<const char*>(data.data()), data.size()});
    if (c.response->state() == http::UpgradeResponseParser::State::kIncomplete) return;
    std::vector<std::string_view> offered(config_.subprotocols.begin(), config_.subprotocols.end());
    const http::ResponseVerdict v =
        c.response->state() == http::UpgradeResponseParser::State::kComplete
            ? c.response->verify({c.key, offered, {}})
            : http::ResponseVerdict::kMalformed;
    if (v != http::ResponseVerdict::kAccepted) {
      ++results_.handshakeFailures;
      progress_.errors.fetch_add(1, std::memory_order_relaxed);
      std::string why(http::describe(v));
      if (v == http::ResponseVerdict::kNotUpgrade) {
        why = "HTTP " + std::to_string(c.response->status());
      }
      results_.noteError("handshake failed on connection " + std::to_string(c.index) + ": " + why);
      c.response.reset();
      return closeConn(c, false);
    }
    c.response.reset();
    results_.handshake.record(now - c.upgradeStart);
    c.state = Conn::State::kOpen;
    c.upgraded = true;
    ++results_.upgraded;
    progress_.handshakes.fetch_add(config_.storm ? 0 : 1, std::memory_order_relaxed);
    if (config_.idle) {
      // Hold it: nothing is sent until the window ends.
    } else if (config_.storm) {
      progress_.handshakes.fetch_add(1, std::memory_order_relaxed);
      if (inWindow(now)) ++results_.handshakes;
      beginClose(c, 1000);
    } else if (config_.rate == 0 && !ending_) {
      for (std::uint32_t i = 0; i < config_.inflight; ++i) sendMessage(c, now);
    }
    data = data.subspan(used);
    if (data.empty()) return;
  }
  if (c.state != Conn::State::kOpen && c.state != Conn::State::kClosing) return;
  Sink sink{*this, c, now};
  if (c.parser.feed(data, sink) == ws::ParseStatus::kError) {
    ++results_.protocolErrors;
    progress_.errors.fetch_add(1, std::memory_order_relaxed);
    const ws::FrameError& e = c.parser.error();
    results_.noteError("server broke the protocol on connection " + std::to_string(c.index) + ": " +
                       std::string(e.reason));
    fail(c, ws::toWire(e.code));
  }
}

void LoadClient::onReadEnd(Conn& c, int error) {
  if (error == transport::kTlsFailure) {
    ++results_.handshakeFailures;
    progress_.errors.fetch_add(1, std::memory_order_relaxed);
    results_.noteError("TLS failed on connection " + std::to_string(c.index) + ": " +
                       c.conn->tlsError());
  } else if (c.state == Conn::State::kUpgrading || c.state == Conn::State::kTls) {
    ++results_.handshakeFailures;
    progress_.errors.fetch_add(1, std::memory_order_relaxed);
    results_.noteError("connection " + std::to_string(c.index) + " closed during the handshake");
  } else if (!c.closeReceived) {
    // The stream ended with no close frame: an abnormal closure (1006).
    ++results_.unexpectedCloses;
    ++results_.closeCodes[1006];
    progress_.errors.fetch_add(1, std::memory_order_relaxed);
    results_.noteError("connection " + std::to_string(c.index) + " dropped without a close frame" +
                       (error ? std::string(" (") + std::strerror(-error) + ")" : ""));
  }
  closeConn(c, false);
}

void LoadClient::stop() {
  if (ending_) return;
  windowEnd_ = std::min(windowEnd_, monotonicNs());
  drainEnd_ = windowEnd_ + kDrainNs;
}

std::uint64_t LoadClient::iterate() {
  const std::uint64_t now = monotonicNs();
  std::uint64_t wake = 0;
  closeTicketed();
  // Open connections on schedule.
  while (!ending_ && opened_ < conns_.size() &&
         (connectInterval_ == 0 || now >= startNs_ + opened_ * connectInterval_)) {
    openConnection(opened_++);
  }
  if (!ending_ && opened_ < conns_.size()) wake = startNs_ + opened_ * connectInterval_ - now;
  // Open loop: sends at their intended times, spread over the connections.
  if (sendInterval_ && !ending_ && !config_.idle) {
    while (nextSend_ <= now && nextSend_ < windowEnd_) {
      Conn* target = nullptr;
      for (std::size_t tries = 0; tries < conns_.size() && !target; ++tries) {
        Conn& c = *conns_[rr_++ % conns_.size()];
        if (c.state == Conn::State::kOpen) target = &c;
      }
      if (target) {
        sendMessage(*target, nextSend_);
      } else if (inWindow(nextSend_)) {
        ++results_.missedSends;
      }
      nextSend_ += sendInterval_;
    }
    std::uint64_t due = nextSend_;
    if (config_.tickNs)
      due = startNs_ + (due - startNs_ + config_.tickNs - 1) / config_.tickNs * config_.tickNs;
    const std::uint64_t untilNext = due > now ? due - now : 1;
    wake = wake ? std::min(wake, untilNext) : untilNext;
  }
  if (now - lastPublish_ >= kSecond / 2) {
    std::lock_guard lock(progress_.mutex);
    progress_.latency = results_.latency;
    lastPublish_ = now;
  }
  // The window is over: stop sending, let echoes drain, close, quit.
  if (!ending_ && now >= windowEnd_) {
    ending_ = true;
    drainEnd_ = std::max(drainEnd_, now);
  }
  if (ending_) {
    for (auto& cp : conns_) {
      Conn& c = *cp;
      if (c.state == Conn::State::kOpen && (c.outstanding.empty() || now >= drainEnd_))
        beginClose(c, 1000);
      if (c.state == Conn::State::kConnecting || c.state == Conn::State::kTls ||
          c.state == Conn::State::kUpgrading) {
        closeConn(c, false);
      }
      if (now >= drainEnd_ + kCloseNs) closeConn(c, false);
    }
    if (live_ == 0) {
      std::lock_guard lock(progress_.mutex);
      progress_.latency = results_.latency;
      progress_.results = results_;  // read after the thread ends
      progress_.finished = true;
      loop_.quit();
    }
    wake = 10'000'000;
  }
  return wake;
}

}  // namespace wsedge::bench
