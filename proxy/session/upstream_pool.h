// Idle backend connections for plain HTTP, kept per worker and per backend
// address once a response has completed, and handed to the next request for
// that backend (the longest idle first). An idle connection the
// backend closes, that receives anything, or that outstays its idle timeout
// is closed and forgotten. Upgrades never come from here: a connection
// turned into a tunnel is never given back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/timer_wheel.h"
#include "proxy/transport/connection.h"

namespace wsedge::proxy {

class UpstreamPool {
 public:
  explicit UpstreamPool(io::TimerWheel& timers) : timers_(timers) {}
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  /// Keeps a connection whose last response is complete, for idleMs at
  /// most; beyond maxIdle for this key, for kSurplusMs at most.
  void put(const std::string& key, transport::ConnectionPtr connection, std::size_t maxIdle,
           std::uint64_t idleMs);
  /// An idle connection for this key, or null; with maxAgeMs, only one
  /// that has been idle no longer than that (a request that may not be
  /// replayed takes no connection its backend may be closing just now).
  transport::ConnectionPtr take(const std::string& key, std::uint64_t maxAgeMs = ~std::uint64_t{0});
  /// Closes every idle connection (the worker is stopping).
  void closeAll();
  std::size_t size() const { return count_; }

  static constexpr std::uint64_t kSurplusMs = 1000;

 private:
  // One idle connection: its handler and its timer until it is taken.
  struct Idle final : transport::Handler, io::TimerHandler {
    Idle(UpstreamPool& p, std::string k, transport::ConnectionPtr c);
    void onConnected(int) override {}
    // A backend has nothing to say to an idle connection: whatever it sends
    // (or its close) ends it.
    void onData(std::span<std::byte>) override { pool.forget(*this); }
    void onReadEnd(int) override { pool.forget(*this); }
    void onDrained() override {}
    void onTimer(io::Timer&) override { pool.forget(*this); }

    UpstreamPool& pool;
    std::string key;
    transport::ConnectionPtr connection;
    io::Timer timer;
    std::uint64_t sinceMs = 0;  // idle since
  };
  /// Closes and deletes one (possibly from within its own callback).
  void forget(Idle& idle);

  io::TimerWheel& timers_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Idle>>> idle_;
  std::size_t count_ = 0;
};

}  // namespace wsedge::proxy
