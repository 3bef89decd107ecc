// What the admin listener answers: a request gets a response, with the
// control plane behind it. It runs on the admin thread and may block it (a
// reload resolves names; a scrape waits for every worker's copy of its
// counters), never a worker; a publish answers later, without blocking.
//
//   GET  /metrics              Prometheus text format 0.0.4
//   GET  /healthz              200 while serving, 503 while draining
//   GET  /config               the running configuration (no secrets), its generation and hash
//   GET  /backends             every pool's backends: health, ejection, drain, sessions
//   POST /reload               as SIGHUP; 400 with the file:line:col errors if refused
//   POST /drain?backend=ADDR   no new sessions for it; its clients get 1012 over drain_window
//   POST /undrain?backend=ADDR takes it back
//   POST /publish/CHANNEL      the body to the channel's subscribers (binary with
//                              Content-Type: application/octet-stream, else UTF-8 text)
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "proxy/control.h"
#include "proxy/pubsub/redis_publisher.h"
#include "proxy/telemetry/access_log.h"

namespace wsedge::proxy {

struct AdminRequest {
  std::string_view method;
  std::string_view target;         // path and query
  std::string_view authorization;  // the Authorization field, if any
  std::string_view contentType;    // the Content-Type field, if any
  std::string_view body;
};

struct AdminResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::string extraFields;  // complete "Name: value\r\n" lines
};

class AdminApi {
 public:
  /// reload: what POST /reload runs (the caller tells systemd around it).
  /// token: what every request must bear (empty: none); like the admin
  /// address, it is the start-up configuration's until a restart.
  AdminApi(Control& control, telemetry::AccessLog* accessLog, std::function<ReloadResult()> reload,
           std::string token);

  /// What a request gets. The answer may come later (a publish waits for
  /// Redis or the workers), from any thread; reply is called once.
  using Reply = std::function<void(AdminResponse)>;
  void handle(const AdminRequest& request, Reply reply);
  /// Where POST /publish goes with Redis configured: the admin loop's own
  /// publisher (null: none, the in-process bus serves).
  void useRedis(pubsub::RedisPublisher* publisher) { redis_ = publisher; }

 private:
  AdminResponse metrics();
  AdminResponse config();
  AdminResponse backends();
  AdminResponse reload();
  AdminResponse drain(std::string_view query, bool on);
  /// Everything but POST /publish, answered at once.
  AdminResponse handle(const AdminRequest& request);
  void publish(std::string_view channel, const AdminRequest& request, Reply reply);

  Control& control_;
  telemetry::AccessLog* accessLog_;
  std::function<ReloadResult()> reload_;
  std::string token_;
  pubsub::RedisPublisher* redis_ = nullptr;
  // The admin thread's alone.
  std::uint64_t published_ = 0;       // POST /publish accepted
  std::uint64_t publishRefused_ = 0;  // ... and answered 503: Redis unavailable
};

/// The SHA-256 of a configuration file's text, in hex.
std::string configHash(const std::string& text);

}  // namespace wsedge::proxy
