#include "proxy/telemetry/prometheus.h"

#include <cstdio>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace wsedge::telemetry {
namespace {

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

constexpr std::string_view kOpcodeNames[16] = {
    "continuation", "text", "binary", "3", "4", "5", "6", "7",
    "close",        "ping", "pong",   "b", "c", "d", "e", "f"};

class Writer {
 public:
  /// # HELP and # TYPE, once per family.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::string_view name, Labels labels, double value) {
    out_ += name;
    writeLabels(labels, {});
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.17g\n", value);
    out_ += buf;
  }
  void sample(std::string_view name, Labels labels, std::uint64_t value) {
    out_ += name;
    writeLabels(labels, {});
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
  }

  void histogram(std::string_view name, Labels labels, const Histogram& h) {
    std::uint64_t cumulative = 0;
    const std::string bucket = std::string(name) + "_bucket";
    for (std::size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
      cumulative += h.counts[i];
      char le[32];
      if (i < Histogram::kBounds.size()) {
        std::snprintf(le, sizeof le, "%g", Histogram::kBounds[i]);
      } else {
        std::snprintf(le, sizeof le, "+Inf");
      }
      out_ += bucket;
      writeLabels(labels, le);
      out_ += ' ';
      out_ += std::to_string(cumulative);
      out_ += '\n';
    }
    sample(std::string(name) + "_sum", labels, h.sum);
    sample(std::string(name) + "_count", labels, h.count);
  }

  std::string take() { return std::move(out_); }

 private:
  void writeLabels(Labels labels, std::string_view le) {
    if (labels.size() == 0 && le.empty()) return;
    out_ += '{';
    bool first = true;
    for (const auto& [key, value] : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += key;
      out_ += "=\"";
      escape(value);
      out_ += '"';
    }
    if (!le.empty()) {
      if (!first) out_ += ',';
      out_ += "le=\"";
      out_ += le;
      out_ += '"';
    }
    out_ += '}';
  }

  // Label values: backslash, double quote and line feed are escaped.
  void escape(std::string_view v) {
    for (char c : v) {
      if (c == '\\') {
        out_ += "\\\\";
      } else if (c == '"') {
        out_ += "\\\"";
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
  }

  std::string out_;
};

void renderListeners(Writer& w, const Scrape& s) {
  const WorkerMetrics& m = s.counters;
  w.family("wsedge_connections_accepted_total", "counter", "Client connections accepted.");
  for (const auto& [name, l] : m.listeners) {
    w.sample("wsedge_connections_accepted_total", {{"listener", name}}, l.accepted);
  }
  w.family("wsedge_connections_active", "gauge", "Client connections open now.");
  for (const proxy::ListenerSnapshot& l : s.snapshot->listeners) {
    w.sample("wsedge_connections_active", {{"listener", l.name}},
             std::uint64_t{l.active->load(std::memory_order_relaxed)});
  }
  w.family("wsedge_connections_rejected_total", "counter",
           "Clients answered with an HTTP error instead of a WebSocket, by status.");
  for (const auto& [name, l] : m.listeners) {
    for (const auto& [status, n] : l.rejected) {
      w.sample("wsedge_connections_rejected_total",
               {{"listener", name}, {"status", std::to_string(status)}}, n);
    }
  }
  w.family("wsedge_http_responses_total", "counter",
           "Plain HTTP requests answered (by the backend or the proxy), by status.");
  for (const auto& [name, l] : m.listeners) {
    for (const auto& [status, n] : l.httpResponses) {
      w.sample("wsedge_http_responses_total",
               {{"listener", name}, {"status", std::to_string(status)}}, n);
    }
  }
  w.family("wsedge_handshakes_total", "counter",
           "Upgrades completed (result=ok) or not (result=failed, by reason).");
  for (const auto& [name, l] : m.listeners) {
    w.sample("wsedge_handshakes_total", {{"listener", name}, {"result", "ok"}, {"reason", ""}},
             l.handshakesOk);
    for (const auto& [reason, n] : l.handshakesFailed) {
      w.sample("wsedge_handshakes_total",
               {{"listener", name}, {"result", "failed"}, {"reason", reason}}, n);
    }
  }
  w.family("wsedge_tls_handshake_seconds", "histogram",
           "From accepting a wss:// client to its TLS handshake done.");
  for (const auto& [name, l] : m.listeners) {
    if (l.tlsHandshake.count != 0) {
      w.histogram("wsedge_tls_handshake_seconds", {{"listener", name}}, l.tlsHandshake);
    }
  }
}

void renderRoutes(Writer& w, const Scrape& s) {
  const WorkerMetrics& m = s.counters;
  // One sample per route and direction of a relay counter.
  const auto perDirection = [&](const char* name, const char* help, auto field) {
    w.family(name, "counter", help);
    for (const auto& [key, r] : m.routes) {
      const auto& [listener, route, pool] = key;
      for (const auto& [direction, c] :
           {std::pair{"from_client", &r.fromClient}, std::pair{"from_backend", &r.fromBackend}}) {
        w.sample(
            name,
            {{"listener", listener}, {"route", route}, {"pool", pool}, {"direction", direction}},
            c->*field);
      }
    }
  };
  perDirection("wsedge_messages_total", "WebSocket data messages relayed.",
               &RelayCounters::messages);
  perDirection("wsedge_message_bytes_total", "Payload bytes of the data messages relayed.",
               &RelayCounters::bytes);
  w.family("wsedge_frames_total", "counter", "WebSocket frames received, by opcode.");
  for (const auto& [key, r] : m.routes) {
    const auto& [listener, route, pool] = key;
    for (const auto& [direction, c] :
         {std::pair{"from_client", &r.fromClient}, std::pair{"from_backend", &r.fromBackend}}) {
      for (std::size_t op = 0; op < c->frames.size(); ++op) {
        if (c->frames[op] == 0) continue;
        w.sample("wsedge_frames_total",
                 {{"listener", listener},
                  {"route", route},
                  {"pool", pool},
                  {"direction", direction},
                  {"opcode", kOpcodeNames[op]}},
                 c->frames[op]);
      }
    }
  }
  w.family("wsedge_rate_limited_total", "counter",
           "Clients over their message_rate: held (action=pause) or closed (action=close).");
  for (const auto& [key, r] : m.routes) {
    const auto& [listener, route, pool] = key;
    w.sample("wsedge_rate_limited_total",
             {{"listener", listener}, {"route", route}, {"pool", pool}, {"action", "pause"}},
             r.ratePauses);
    w.sample("wsedge_rate_limited_total",
             {{"listener", listener}, {"route", route}, {"pool", pool}, {"action", "close"}},
             r.rateCloses);
  }
}

void renderCloses(Writer& w, const Scrape& s) {
  const WorkerMetrics& m = s.counters;
  w.family("wsedge_closes_total", "counter", "Close frames, by side, code and direction.");
  for (const auto& [key, n] : m.closes) {
    const auto& [side, code, direction] = key;
    w.sample("wsedge_closes_total", {{"side", side}, {"code", code}, {"direction", direction}}, n);
  }
  w.family("wsedge_protocol_errors_total", "counter",
           "Sessions ended because a side broke RFC 6455, by side and the close code it got "
           "(1002 protocol, 1007 invalid UTF-8, 1009 too big).");
  for (const auto& [key, n] : m.protocolErrors) {
    w.sample("wsedge_protocol_errors_total",
             {{"side", key.first}, {"code", std::to_string(key.second)}}, n);
  }
  w.family("wsedge_sessions_ended_total", "counter", "Sessions ended, by cause.");
  for (const auto& [cause, n] : m.sessionsEnded) {
    w.sample("wsedge_sessions_ended_total", {{"cause", cause}}, n);
  }
}

void renderBackends(Writer& w, const Scrape& s) {
  const WorkerMetrics& m = s.counters;
  w.family("wsedge_backend_connect_failures_total", "counter",
           "Connections to a backend that failed, were refused or timed out.");
  for (const auto& [key, b] : m.backends) {
    w.sample("wsedge_backend_connect_failures_total",
             {{"pool", key.first}, {"backend", key.second}}, b.connectFailures);
  }
  w.family("wsedge_backend_bad_answers_total", "counter",
           "Upgrades a backend answered with a 5xx, an invalid answer, or a close.");
  for (const auto& [key, b] : m.backends) {
    w.sample("wsedge_backend_bad_answers_total", {{"pool", key.first}, {"backend", key.second}},
             b.badAnswers);
  }
  w.family("wsedge_backend_retries_total", "counter",
           "Another backend tried after this one failed.");
  for (const auto& [key, b] : m.backends) {
    w.sample("wsedge_backend_retries_total", {{"pool", key.first}, {"backend", key.second}},
             b.retries);
  }
  w.family("wsedge_backend_ping_rtt_seconds", "histogram",
           "Keepalive: from the proxy's ping to a backend to its answer.");
  for (const auto& [key, b] : m.backends) {
    if (b.pingRtt.count == 0) continue;
    w.histogram("wsedge_backend_ping_rtt_seconds", {{"pool", key.first}, {"backend", key.second}},
                b.pingRtt);
  }
  // The shared state of the running snapshot's backends.
  struct Gauge {
    const char* name;
    const char* type;
    const char* help;
  };
  constexpr Gauge kGauges[] = {
      {"wsedge_backend_healthy", "gauge", "1 while the active health check passes (or none)."},
      {"wsedge_backend_ejected", "gauge", "1 while ejected by passive health (outlier)."},
      {"wsedge_backend_draining", "gauge", "1 while drained: no new sessions."},
      {"wsedge_backend_sessions", "gauge", "Live sessions, over every worker."},
      {"wsedge_backend_ejections_total", "counter", "Ejections by passive health (outlier)."},
  };
  for (std::size_t g = 0; g < std::size(kGauges); ++g) {
    w.family(kGauges[g].name, kGauges[g].type, kGauges[g].help);
    for (const proxy::PoolSnapshot& p : s.snapshot->pools) {
      for (std::size_t i = 0; i < p.backends.size(); ++i) {
        const proxy::BackendState& b = p.state.backend(i);
        std::uint64_t v = 0;
        switch (g) {
          case 0:
            v = b.healthy.load(std::memory_order_relaxed);
            break;
          case 1:
            v = b.ejectedUntilMs.load(std::memory_order_relaxed) > s.nowMs;
            break;
          case 2:
            v = b.draining.load(std::memory_order_relaxed);
            break;
          case 3:
            v = b.live();
            break;
          default:
            v = b.ejectionsTotal.load(std::memory_order_relaxed);
        }
        w.sample(kGauges[g].name,
                 {{"pool", p.name},
                  {"backend", p.backends[i].written},
                  {"address", p.backends[i].address.toString()}},
                 v);
      }
    }
  }
}

void renderProcess(Writer& w, const Scrape& s) {
  w.family("wsedge_reloads_total", "counter", "Configuration reloads, by result.");
  w.sample("wsedge_reloads_total", {{"result", "ok"}}, s.reloadsOk);
  w.sample("wsedge_reloads_total", {{"result", "failed"}}, s.reloadsFailed);
  w.family("wsedge_config_generation", "gauge", "The generation of the running configuration.");
  w.sample("wsedge_config_generation", {}, s.snapshot->generation);
  w.family("wsedge_draining", "gauge", "1 once SIGTERM started the drain.");
  w.sample("wsedge_draining", {}, std::uint64_t{s.draining});
  w.family("wsedge_access_log_dropped_total", "counter",
           "Access log lines dropped because the writer could not keep up.");
  w.sample("wsedge_access_log_dropped_total", {}, s.accessLogDropped);
  w.family("wsedge_log_dropped_total", "counter",
           "Log lines dropped because stderr was not being read.");
  w.sample("wsedge_log_dropped_total", {}, s.logDropped);
  w.family("wsedge_worker_loop_iterations_total", "counter", "Iterations of a worker's loop.");
  for (std::size_t i = 0; i < s.loops.size(); ++i) {
    w.sample("wsedge_worker_loop_iterations_total", {{"worker", std::to_string(i)}},
             s.loops[i].iterations);
  }
  w.family("wsedge_worker_submissions_total", "counter",
           "io_uring submission entries a worker handed to the kernel.");
  for (std::size_t i = 0; i < s.loops.size(); ++i) {
    w.sample("wsedge_worker_submissions_total", {{"worker", std::to_string(i)}},
             s.loops[i].submitted);
  }
  w.family("wsedge_worker_enobufs_total", "counter",
           "Multishot receives stopped because the provided-buffer ring was empty.");
  for (std::size_t i = 0; i < s.loops.size(); ++i) {
    w.sample("wsedge_worker_enobufs_total", {{"worker", std::to_string(i)}},
             s.loops[i].noBufferStops);
  }
  w.family("wsedge_worker_sessions", "gauge", "Sessions open on a worker.");
  for (std::size_t i = 0; i < s.loops.size(); ++i) {
    w.sample("wsedge_worker_sessions", {{"worker", std::to_string(i)}}, s.loops[i].sessions);
  }
}

void renderPush(Writer& w, const Scrape& s) {
  const PushCounters& p = s.counters.push;
  w.family("wsedge_push_subscribers", "gauge", "Sessions subscribed to channels now, by route.");
  for (const auto& [key, r] : s.counters.routes) {
    const auto& [listener, route, pool] = key;
    if (r.subscribed == 0 && !pool.empty()) continue;
    w.sample("wsedge_push_subscribers", {{"listener", listener}, {"route", route}}, r.subscribers);
  }
  w.family("wsedge_push_channels", "gauge",
           "Channels with a local subscriber, summed over the workers.");
  w.sample("wsedge_push_channels", {}, p.channels);
  w.family("wsedge_push_published_total", "counter",
           "Messages published through the admin API (result=ok), or refused with 503 because "
           "Redis was unavailable (result=unavailable).");
  w.sample("wsedge_push_published_total", {{"result", "ok"}}, s.published);
  w.sample("wsedge_push_published_total", {{"result", "unavailable"}}, s.publishRefused);
  w.family("wsedge_push_received_total", "counter",
           "Messages a worker received to hand out, by source (redis, or the in-process bus).");
  w.sample("wsedge_push_received_total", {{"source", "redis"}}, p.fromRedis);
  w.sample("wsedge_push_received_total", {{"source", "bus"}}, p.fromBus);
  w.family("wsedge_push_deliveries_total", "counter", "Messages queued to a subscriber.");
  w.sample("wsedge_push_deliveries_total", {}, p.deliveries);
  w.family("wsedge_push_dropped_total", "counter",
           "Messages from Redis not delivered: larger than pubsub.queue (reason=too_large).");
  w.sample("wsedge_push_dropped_total", {{"reason", "too_large"}}, p.tooLarge);
  w.family("wsedge_push_overflow_closes_total", "counter",
           "Subscribers closed with 1013 because their queue was full.");
  w.sample("wsedge_push_overflow_closes_total", {}, p.overflowCloses);
  w.family("wsedge_push_control_messages_total", "counter",
           "Backends' {\"wsedge\": ...} messages: applied, or refused as invalid.");
  w.sample("wsedge_push_control_messages_total", {{"result", "applied"}}, p.controlMessages);
  w.sample("wsedge_push_control_messages_total", {{"result", "invalid"}}, p.badControl);
  w.family("wsedge_push_fanout_seconds", "histogram",
           "From a message's arrival at a worker to its being queued to every local subscriber.");
  w.histogram("wsedge_push_fanout_seconds", {}, p.fanout);
  if (!s.redisConfigured) return;
  w.family("wsedge_redis_connected", "gauge",
           "Workers whose Redis subscriber connection is up (of wsedge_redis_workers).");
  w.sample("wsedge_redis_connected", {}, p.redisUp);
  w.family("wsedge_redis_workers", "gauge", "Workers that keep a Redis subscriber connection.");
  w.sample("wsedge_redis_workers", {}, static_cast<std::uint64_t>(s.loops.size()));
  w.family("wsedge_redis_connects_total", "counter",
           "Redis subscriber connections that came up: the first and every reconnect.");
  w.sample("wsedge_redis_connects_total", {}, p.redisConnects);
  w.family("wsedge_redis_failures_total", "counter",
           "Redis subscriber connections lost or refused (messages published meanwhile are "
           "not delivered).");
  w.sample("wsedge_redis_failures_total", {}, p.redisFailures);
}

}  // namespace

std::string renderPrometheus(const Scrape& scrape) {
  Writer w;
  renderListeners(w, scrape);
  renderRoutes(w, scrape);
  renderCloses(w, scrape);
  renderBackends(w, scrape);
  renderPush(w, scrape);
  renderProcess(w, scrape);
  return w.take();
}

}  // namespace wsedge::telemetry
