#include "proxy/pool/health_checker.h"

#include <cstring>
#include <random>
#include <string>

#include "proxy/http/accept_key.h"
#include "proxy/http/handshake_writer.h"
#include "proxy/http/response_parser.h"
#include "proxy/log.h"
#include "proxy/ws/frame_writer.h"
#include "proxy/ws/mask_key.h"

namespace wsedge::proxy {

class HealthChecker::Probe final : private transport::Handler, private io::TimerHandler {
 public:
  Probe(HealthChecker& owner, std::shared_ptr<BackendState> state)
      : owner_(owner), state_(std::move(state)) {
    timer_.setHandler(this);
  }
  ~Probe() { transport::close(conn_, false); }

  /// What to probe, from this snapshot; the first probe comes within one interval.
  void target(const PoolSnapshot& pool, const BackendSnapshot& backend, bool fresh) {
    check_ = *pool.config->healthCheck;
    address_ = backend.address;
    name_ = backend.name;
    host_ = backend.written;
    pool_ = pool.name;
    if (fresh) {
      // Spread the probes over the interval: no thundering herd at start.
      std::uniform_int_distribution<std::uint64_t> delay(0, check_.intervalMs);
      owner_.loop_.timers().scheduleIn(timer_, delay(rng()));
    }
  }

 private:
  enum class Phase : std::uint8_t { kIdle, kConnecting, kUpgrading };

  static std::mt19937_64& rng() {
    static thread_local std::mt19937_64 r(std::random_device{}());
    return r;
  }

  void onTimer(io::Timer&) override {
    if (phase_ == Phase::kIdle) return begin();
    result(false, "no answer within the timeout");
  }

  void begin() {
    ++owner_.probesRun_;
    int error = 0;
    conn_ = owner_.net_.connect(address_, *this, &error);
    if (!conn_) return result(false, "cannot open a socket");
    phase_ = Phase::kConnecting;
    owner_.loop_.timers().scheduleIn(timer_, check_.timeoutMs);
  }

  void onConnected(int error) override {
    if (error != 0) return result(false, std::string("connect: ") + std::strerror(-error));
    if (check_.type == conf::HealthCheckType::kTcp) return result(true, "");
    key_ = http::generateClientKey();
    std::string request;
    http::writeUpgradeRequest(
        request, {check_.path, host_, key_, {}, "", "User-Agent: wsedge-health-check\r\n"});
    conn_->output().write(std::as_bytes(std::span(request)));
    conn_->output().commit();
    conn_->flush();
    response_ = std::make_unique<http::UpgradeResponseParser>();
    phase_ = Phase::kUpgrading;
  }

  void onData(std::span<std::byte> data) override {
    if (phase_ != Phase::kUpgrading) return;
    response_->feed({reinterpret_cast<const char*>(data.data()), data.size()});
    if (response_->state() == http::UpgradeResponseParser::State::kIncomplete) return;
    if (response_->state() == http::UpgradeResponseParser::State::kError) {
      return result(false, "malformed answer to the upgrade");
    }
    const http::ResponseVerdict v = response_->verify({key_, {}, {}});
    if (v == http::ResponseVerdict::kNotUpgrade) {
      return result(false, "answered the upgrade with " + std::to_string(response_->status()));
    }
    if (v != http::ResponseVerdict::kAccepted) return result(false, std::string(http::describe(v)));
    // A real session's end: close 1000, masked as a client's.
    ws::FrameHeader h;
    h.opcode = ws::Opcode::kClose;
    h.masked = true;
    h.mask = owner_masks().next();
    std::byte payload[2];
    const std::size_t n = ws::writeClosePayload(payload, 1000, "");
    std::vector<std::byte> frame;
    ws::appendFrame(frame, h, {payload, n});
    conn_->output().write(frame);
    conn_->output().commit();
    conn_->flush();
    result(true, "");
  }

  void onReadEnd(int) override { result(false, "the connection closed before an answer"); }
  void onDrained() override {}

  static ws::MaskKeySource& owner_masks() {
    static thread_local ws::MaskKeySource masks;
    return masks;
  }

  void result(bool ok, const std::string& why) {
    transport::close(conn_, ok);  // after a good probe the close frame is flushed
    response_.reset();
    phase_ = Phase::kIdle;
    owner_.loop_.timers().scheduleIn(timer_, check_.intervalMs);
    const bool healthy = state_->healthy.load(std::memory_order_relaxed);
    if (ok) {
      fails_ = 0;
      if (!healthy && ++oks_ >= check_.healthyThreshold) {
        state_->healthy.store(true, std::memory_order_relaxed);
        WSEDGE_LOG(kWarn, "backend %s of pool %s is healthy again", name_.c_str(), pool_.c_str());
      }
      return;
    }
    oks_ = 0;
    if (healthy && ++fails_ >= check_.unhealthyThreshold) {
      state_->healthy.store(false, std::memory_order_relaxed);
      WSEDGE_LOG(kWarn, "backend %s of pool %s is unhealthy: %s", name_.c_str(), pool_.c_str(),
                 why.c_str());
    }
  }

  HealthChecker& owner_;
  std::shared_ptr<BackendState> state_;
  conf::HealthCheckConfig check_;
  io::SocketAddress address_;
  std::string name_, host_, pool_, key_;
  io::Timer timer_;
  transport::ConnectionPtr conn_;
  std::unique_ptr<http::UpgradeResponseParser> response_;
  Phase phase_ = Phase::kIdle;
  std::uint32_t oks_ = 0;
  std::uint32_t fails_ = 0;
};

HealthChecker::HealthChecker(io::Loop& loop) : loop_(loop), net_(loop) {}

HealthChecker::~HealthChecker() = default;

void HealthChecker::setSnapshot(std::shared_ptr<const Snapshot> snapshot) {
  if (stopping_) return;
  std::map<const BackendState*, std::unique_ptr<Probe>> next;
  for (const PoolSnapshot& pool : snapshot->pools) {
    if (!pool.config->healthCheck) continue;
    for (std::size_t i = 0; i < pool.backends.size(); ++i) {
      const std::shared_ptr<BackendState>& state = pool.state.shared(i);
      auto old = probes_.find(state.get());
      const bool fresh = old == probes_.end();
      std::unique_ptr<Probe> probe =
          fresh ? std::make_unique<Probe>(*this, state) : std::move(old->second);
      probe->target(pool, pool.backends[i], fresh);
      next[state.get()] = std::move(probe);
    }
  }
  probes_ = std::move(next);  // backends gone from every pool: their probes end
  snapshot_ = std::move(snapshot);
}

void HealthChecker::stop() {
  stopping_ = true;
  probes_.clear();
  loop_.quit();
}

}  // namespace wsedge::proxy
