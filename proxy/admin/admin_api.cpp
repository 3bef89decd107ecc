#include "proxy/admin/admin_api.h"

#include <openssl/crypto.h>

#include <chrono>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>

#include "io/clock.h"
#include "proxy/http/query.h"
#include "proxy/log.h"
#include "proxy/proxy_worker.h"
#include "proxy/pubsub/channels.h"
#include "proxy/pubsub/redis_message.h"
#include "proxy/telemetry/prometheus.h"
#include "proxy/ws/utf8.h"
#include "tls/digest.h"

namespace wsedge::proxy {
namespace {

using nlohmann::ordered_json;

AdminResponse json(int status, const ordered_json& body) {
  AdminResponse r;
  r.status = status;
  r.body = body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

AdminResponse error(int status, std::string_view message) {
  return json(status, ordered_json{{"error", message}});
}

// The bearer token, compared in constant time.
bool authorized(std::string_view header, const std::string& token) {
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() != kScheme.size() + token.size()) return false;
  if (!http::equalsIgnoreCase(header.substr(0, kScheme.size()), kScheme)) return false;
  return CRYPTO_memcmp(header.data() + kScheme.size(), token.data(), token.size()) == 0;
}

const char* balanceName(conf::BalancePolicy p) {
  switch (p) {
    case conf::BalancePolicy::kRoundRobin:
      return "round_robin";
    case conf::BalancePolicy::kLeastConn:
      return "least_conn";
    case conf::BalancePolicy::kRandomTwo:
      return "random_two";
    case conf::BalancePolicy::kHash:
      return "hash";
  }
  return "?";
}

ordered_json matchJson(const conf::RouteMatch& m) {
  ordered_json j = ordered_json::object();
  if (m.path) j["path"] = *m.path;
  if (m.pathPrefix) j["path_prefix"] = *m.pathPrefix;
  if (m.pathRegex) j["path_regex"] = *m.pathRegex;
  if (m.host) j["host"] = *m.host;
  for (const conf::HeaderMatch& h : m.headers) {
    j["header"].push_back({{"name", h.name}, {"value", h.value}});
  }
  for (const conf::HeaderMatch& q : m.queries) {
    j["query"].push_back({{"name", q.name}, {"value", q.value}});
  }
  if (m.subprotocol) j["subprotocol"] = *m.subprotocol;
  return j;
}

}  // namespace

std::string configHash(const std::string& text) {
  return tls::sha256Hex(text);
}

AdminApi::AdminApi(Control& control, telemetry::AccessLog* accessLog,
                   std::function<ReloadResult()> reload, std::string token)
    : control_(control),
      accessLog_(accessLog),
      reload_(std::move(reload)),
      token_(std::move(token)) {}

void AdminApi::handle(const AdminRequest& req, Reply reply) {
  const std::size_t q = req.target.find('?');
  const std::string_view path = req.target.substr(0, q);
  if (path.rfind("/publish/", 0) == 0 && req.method == "POST" &&
      (token_.empty() || authorized(req.authorization, token_))) {
    return publish(path.substr(9), req, std::move(reply));
  }
  reply(handle(req));
}

AdminResponse AdminApi::handle(const AdminRequest& req) {
  if (!token_.empty() && !authorized(req.authorization, token_)) {
    AdminResponse r = error(401, "this admin API needs 'Authorization: Bearer TOKEN'");
    r.extraFields = "WWW-Authenticate: Bearer realm=\"wsedge\"\r\n";
    return r;
  }
  const std::size_t q = req.target.find('?');
  const std::string_view path = req.target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : req.target.substr(q);
  struct Endpoint {
    std::string_view path;
    std::string_view method;
  };
  static constexpr Endpoint kEndpoints[] = {
      {"/metrics", "GET"}, {"/healthz", "GET"}, {"/config", "GET"},   {"/backends", "GET"},
      {"/reload", "POST"}, {"/drain", "POST"},  {"/undrain", "POST"},
  };
  const Endpoint* found = nullptr;
  for (const Endpoint& e : kEndpoints) {
    if (e.path == path) found = &e;
  }
  if (path.rfind("/publish/", 0) == 0) {
    if (req.method != "POST") {
      AdminResponse r = error(405, "/publish/CHANNEL takes POST");
      r.extraFields = "Allow: POST\r\n";
      return r;
    }
    return error(500, "POST /publish answers later: see handle(request, reply)");
  }
  if (!found) {
    return error(404,
                 "no such endpoint; there are /metrics /healthz /config /backends /reload "
                 "/drain /undrain /publish/CHANNEL");
  }
  // HEAD is GET without the body (the server leaves the body out).
  const bool head = req.method == "HEAD" && found->method == "GET";
  if (req.method != found->method && !head) {
    AdminResponse r = error(405, std::string(path) + " takes " + std::string(found->method));
    r.extraFields = "Allow: " + std::string(found->method) + "\r\n";
    return r;
  }
  if (path == "/metrics") return metrics();
  if (path == "/healthz") {
    AdminResponse r;
    r.contentType = "text/plain; charset=utf-8";
    r.status = control_.draining() ? 503 : 200;
    r.body = control_.draining() ? "draining\n" : "ok\n";
    return r;
  }
  if (path == "/config") return config();
  if (path == "/backends") return backends();
  if (path == "/reload") return reload();
  return drain(query, path == "/drain");
}

void AdminApi::publish(std::string_view encoded, const AdminRequest& req, Reply reply) {
  const std::optional<std::string> channel = pubsub::decodeChannel(encoded);
  if (!channel) return reply(error(400, "the channel name is not validly percent-encoded"));
  if (const std::string_view why = pubsub::checkChannelName(*channel); !why.empty()) {
    return reply(error(400, std::string(why)));
  }
  std::string_view media = req.contentType.substr(0, req.contentType.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  const bool binary = http::equalsIgnoreCase(media, "application/octet-stream");
  if (!binary && !ws::isValidUtf8(req.body)) {
    return reply(error(400,
                       "a text message must be valid UTF-8 (send Content-Type: "
                       "application/octet-stream for binary)"));
  }
  const std::shared_ptr<const Snapshot> snap = control_.snapshot();
  if (req.body.size() > snap->config.pubsubQueue) {
    return reply(error(413, "the message is larger than pubsub.queue (" +
                                std::to_string(snap->config.pubsubQueue) +
                                " bytes): no subscriber could take it"));
  }
  const auto answer = [channel = *channel, bytes = req.body.size(), binary](
                          std::string_view via, std::string_view key, std::uint64_t n) {
    AdminResponse r;
    r.body =
        ordered_json{
            {"channel", channel}, {"bytes", bytes}, {"binary", binary}, {"via", via}, {key, n}}
            .dump() +
        "\n";
    return r;
  };
  if (!snap->config.redis || !snap->redis || !redis_) {
    ++published_;
    return control_.publishLocally(*channel, std::string(req.body), binary,
                                   [answer, reply](std::uint64_t reached) {
                                     reply(answer("in-process", "subscribers", reached));
                                   });
  }
  redis_->publish(
      *snap->config.redis, *snap->redis, *channel, pubsub::encodeBusMessage(req.body, binary),
      [this, answer, reply](const pubsub::RedisPublisher::Result& r) {
        if (!r.ok) {
          ++publishRefused_;
          // A retry after a 504 may publish the message twice.
          if (r.unknown) {
            return reply(error(
                504, "redis did not answer; the message may or may not be published: " + r.error));
          }
          return reply(error(503, "redis unavailable, nothing published: " + r.error));
        }
        ++published_;
        // Redis counts the subscriber connections (workers, of every
        // instance) it reached.
        reply(answer("redis", "receivers", static_cast<std::uint64_t>(std::max(0LL, r.receivers))));
      });
}

AdminResponse AdminApi::metrics() {
  // Every worker copies its counters on its own thread; the copies are summed here.
  // Each into its own slot: the workers share nothing while they copy. The
  // last one to let go of the task fulfils the promise, after every copy.
  struct Collected {
    std::vector<telemetry::WorkerMetrics> metrics;
    std::vector<telemetry::LoopCounters> loops;
    std::vector<char> answered;
    std::promise<void> done;
  };
  auto c = std::make_shared<Collected>();
  c->metrics.resize(control_.workerCount());
  c->loops.resize(control_.workerCount());
  c->answered.resize(control_.workerCount());
  std::future<void> all = c->done.get_future();
  control_.forEachWorker(
      [c](unsigned i, ProxyWorker& w) {
        if (i >= c->metrics.size()) return;
        c->metrics[i] = w.metrics();
        c->loops[i] = w.loopCounters();
        c->answered[i] = 1;
      },
      [c] { c->done.set_value(); });
  if (all.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    return error(503, "a worker did not answer within 2 s");
  }
  // A worker that has ended (drained) still counts: with what it had then,
  // so that no counter goes backwards.
  for (unsigned i = 0; i < c->answered.size(); ++i) {
    if (!c->answered[i]) control_.lastCounters(i, &c->metrics[i], &c->loops[i]);
  }
  telemetry::Scrape s;
  for (const telemetry::WorkerMetrics& m : c->metrics) s.counters.merge(m);
  s.loops = c->loops;
  s.snapshot = control_.snapshot();
  s.reloadsOk = control_.reloadsOk();
  s.reloadsFailed = control_.reloadsFailed();
  s.accessLogDropped = accessLog_ ? accessLog_->dropped() : 0;
  s.logDropped = log::dropped();
  s.draining = control_.draining();
  s.published = published_;
  s.publishRefused = publishRefused_;
  s.redisConfigured = s.snapshot->config.redis.has_value();
  s.nowMs = io::monotonicMs();
  AdminResponse r;
  r.contentType = "text/plain; version=0.0.4; charset=utf-8";
  r.body = telemetry::renderPrometheus(s);
  return r;
}

AdminResponse AdminApi::config() {
  const std::shared_ptr<const Snapshot> snap = control_.snapshot();
  const conf::Config& c = snap->config;
  ordered_json j;
  j["generation"] = snap->generation;
  j["file"] = c.file;
  j["sha256"] = configHash(c.text);
  j["workers"] = control_.workerCount();
  j["worker_connections"] = c.workerConnections;
  ordered_json listeners = ordered_json::array();
  for (const conf::ListenerConfig& l : c.listeners) {
    ordered_json lj;
    lj["address"] = l.address;
    if (l.maxConnections) lj["max_connections"] = l.maxConnections;
    if (l.tls) {
      // Paths only: the keys themselves never leave the process.
      ordered_json certs = ordered_json::array();
      for (const conf::CertificateConfig& cert : l.tls->certificates) {
        certs.push_back({{"cert", cert.cert}, {"key", cert.key}});
      }
      lj["tls"] = {{"certificates", certs}};
    }
    ordered_json routes = ordered_json::array();
    for (const conf::RouteConfig& r : l.routes) {
      ordered_json rj{{"name", r.name}, {"match", matchJson(r.match)}, {"pool", r.pool}};
      if (!r.allowedOrigins.empty()) rj["allowed_origins"] = r.allowedOrigins;
      if (r.rewritePrefix) rj["rewrite_prefix"] = *r.rewritePrefix;
      routes.push_back(rj);
    }
    lj["routes"] = routes;
    listeners.push_back(lj);
  }
  j["listeners"] = listeners;
  ordered_json pools = ordered_json::object();
  for (const auto& [name, p] : c.pools) {
    ordered_json backends = ordered_json::array();
    for (const conf::BackendConfig& b : p.backends) {
      ordered_json bj{{"address", b.address}, {"weight", b.weight}};
      if (b.maxConnections) bj["max_connections"] = b.maxConnections;
      backends.push_back(bj);
    }
    pools[name] = {
        {"balance", balanceName(p.balance)}, {"retries", p.retries}, {"backends", backends}};
  }
  j["pools"] = pools;
  if (c.admin) {
    j["admin"] = {{"address", c.admin->address}, {"token", token_.empty() ? "" : "(set)"}};
  }
  if (c.accessLog) j["access_log"] = {{"path", c.accessLog->path}};
  return json(200, j);
}

AdminResponse AdminApi::backends() {
  const std::shared_ptr<const Snapshot> snap = control_.snapshot();
  const std::uint64_t now = io::monotonicMs();
  ordered_json pools = ordered_json::array();
  for (const PoolSnapshot& p : snap->pools) {
    ordered_json backends = ordered_json::array();
    for (std::size_t i = 0; i < p.backends.size(); ++i) {
      const BackendSnapshot& b = p.backends[i];
      const BackendState& st = p.state.backend(i);
      backends.push_back({
          {"address", b.written},
          {"resolved", b.address.toString()},
          {"weight", b.weight},
          {"healthy", st.healthy.load(std::memory_order_relaxed)},
          {"ejected", st.ejectedUntilMs.load(std::memory_order_relaxed) > now},
          {"draining", st.draining.load(std::memory_order_relaxed)},
          {"sessions", st.live()},
      });
    }
    pools.push_back(
        {{"name", p.name}, {"balance", balanceName(p.config->balance)}, {"backends", backends}});
  }
  return json(200, ordered_json{{"generation", snap->generation}, {"pools", pools}});
}

AdminResponse AdminApi::reload() {
  const ReloadResult r = reload_();
  if (!r.ok) {
    return json(400,
                ordered_json{{"ok", false}, {"generation", r.generation}, {"errors", r.errors}});
  }
  return json(200, ordered_json{{"ok", true},
                                {"generation", r.generation},
                                {"switch_ms", r.switchMs},
                                {"warnings", r.warnings}});
}

AdminResponse AdminApi::drain(std::string_view query, bool on) {
  const std::optional<std::string> backend = http::queryParameter(query, "backend");
  if (!backend || backend->empty()) {
    return error(400, "name the backend: ?backend=HOST:PORT, as written in the configuration");
  }
  const DrainResult r = control_.drainBackend(*backend, on);
  if (r.backends == 0) return error(404, "no backend " + *backend + " in any pool");
  ordered_json j{{"backend", *backend}, {"draining", on}, {"backends", r.backends}};
  if (on) j["sessions"] = r.sessions;
  return json(200, j);
}

}  // namespace wsedge::proxy
