// The admin listener: HTTP/1.1 on its own thread and loop, off the data
// path. Requests one at a time on a connection, kept alive for HTTP/1.1
// (a publisher's), heads parsed by the project's own HeadParser with its
// caps, bodies up to 64 KiB by Content-Length only, 10 s to send a request
// (a connection quiet that long between requests is closed), 64
// connections at most.
// What a request means is AdminApi's business.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "io/loop.h"
#include "io/worker.h"
#include "proxy/admin/admin_api.h"
#include "proxy/pubsub/redis_publisher.h"
#include "proxy/transport/network.h"

namespace wsedge::proxy {

class AdminServer final : public io::Worker::App, private io::AcceptHandler {
 public:
  static constexpr std::size_t kMaxConnections = 64;
  static constexpr std::size_t kMaxBody = 64 * 1024;
  static constexpr std::uint64_t kRequestTimeoutMs = 10'000;
  /// Pipelined bytes held behind a request waiting for its answer; beyond
  /// this the connection is not read until the answer.
  static constexpr std::size_t kMaxHeld = 128 * 1024;

  /// Listens on address; throws std::runtime_error if it cannot.
  AdminServer(io::Loop& loop, AdminApi& api, const io::SocketAddress& address);
  ~AdminServer() override;

  void stop() override;

 private:
  class Exchange;
  friend class Exchange;

  void onAccept(int listener, int fd) override;
  void finished(Exchange& exchange);
  /// Hands the request to the API; its answer reaches the exchange later.
  void dispatch(Exchange& exchange, const AdminRequest& request);

  // How an answer from any thread reaches this loop while it lives.
  struct Mailbox {
    std::mutex mutex;
    io::Loop* loop = nullptr;
  };

  io::Loop& loop_;
  AdminApi& api_;
  transport::LoopNetwork net_;
  std::map<Exchange*, std::unique_ptr<Exchange>> open_;
  pubsub::RedisPublisher redis_;
  std::shared_ptr<Mailbox> mailbox_;
  std::uint64_t serial_ = 0;
  bool stopping_ = false;
};

}  // namespace wsedge::proxy
