// What a worker counts, for /metrics. Each worker owns one WorkerMetrics
// and is its only writer: plain integers, no lock, no atomic. A scrape asks
// every worker, through its mailbox, for a copy taken on its own thread,
// sums the copies (merge()) and renders them (prometheus.h).
//
// Counters are keyed by their labels and never removed, so a counter keeps
// counting across reloads for as long as its listener, route or backend
// keeps its name; a session holds plain pointers to the ones it moves.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

namespace wsedge::telemetry {

/// Cumulative buckets over fixed bounds, in seconds.
struct Histogram {
  static constexpr std::array<double, 12> kBounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,   0.25,   0.5,   1,    2.5};
  std::array<std::uint64_t, kBounds.size() + 1> counts{};  // the last: over every bound
  double sum = 0;
  std::uint64_t count = 0;

  void observe(double seconds);
  void merge(const Histogram& other);
};

/// One direction of the WebSockets of one route.
struct RelayCounters {
  std::uint64_t messages = 0;              // data messages
  std::uint64_t bytes = 0;                 // their payload bytes
  std::array<std::uint64_t, 16> frames{};  // by opcode, data and control

  void merge(const RelayCounters& other);
};

struct RouteCounters {
  RelayCounters fromClient, fromBackend;
  std::uint64_t ratePauses = 0;   // a client held for its message_rate
  std::uint64_t rateCloses = 0;   // a client closed for it (over_rate: close)
  std::uint64_t subscribers = 0;  // gauge: sessions subscribed to channels now
  std::uint64_t subscribed = 0;   // sessions that ever were

  void merge(const RouteCounters& other);
};

struct ListenerCounters {
  std::uint64_t accepted = 0;
  std::uint64_t handshakesOk = 0;
  std::map<std::string, std::uint64_t> handshakesFailed;  // by reason
  std::map<int, std::uint64_t> rejected;                  // by the HTTP status answered
  std::map<int, std::uint64_t> httpResponses;             // plain HTTP requests, by status
  Histogram tlsHandshake;                                 // wss:// only

  void merge(const ListenerCounters& other);
};

struct BackendCounters {
  std::uint64_t connectFailures = 0;  // connects failed or refused
  std::uint64_t badAnswers = 0;       // a 5xx or an invalid answer to the upgrade
  std::uint64_t retries = 0;          // another backend tried after this one failed
  Histogram pingRtt;                  // keepalive: our ping to its answer

  void merge(const BackendCounters& other);
};

/// Push: what a worker's hub and Redis link count.
struct PushCounters {
  std::uint64_t fromRedis = 0;        // messages Redis delivered
  std::uint64_t fromBus = 0;          // messages the in-process bus handed over
  std::uint64_t deliveries = 0;       // messages queued to a subscriber
  std::uint64_t overflowCloses = 0;   // subscribers closed with 1013 (queue full)
  std::uint64_t controlMessages = 0;  // backends' {"wsedge": ...} messages applied
  std::uint64_t badControl = 0;       // ... and refused (logged)
  std::uint64_t tooLarge = 0;         // Redis messages over pubsub.queue, dropped
  std::uint64_t redisConnects = 0;    // connections that came up (the first and each reconnect)
  std::uint64_t redisFailures = 0;    // connections lost or refused
  std::uint64_t redisUp = 0;          // gauge: 1 while subscribed and answering
  std::uint64_t channels = 0;         // gauge: channels with a subscriber on this worker
  Histogram fanout;                   // a message's hand-out to every local subscriber

  void merge(const PushCounters& other);
};

struct WorkerMetrics {
  // Keys: (listener, route, pool), listener, (pool, backend as written).
  std::map<std::tuple<std::string, std::string, std::string>, RouteCounters> routes;
  std::map<std::string, ListenerCounters> listeners;
  std::map<std::pair<std::string, std::string>, BackendCounters> backends;
  // Close frames: (side, code, "sent" or "received"). Codes a peer may
  // choose freely (3000-4999) are counted as 3xxx and 4xxx, so that no
  // peer can add series without bound.
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> closes;
  // Protocol errors: (side, the close code it got: 1002, 1007, 1009).
  std::map<std::pair<std::string, std::uint16_t>, std::uint64_t> protocolErrors;
  std::map<std::string, std::uint64_t> sessionsEnded;  // by cause
  PushCounters push;

  RouteCounters& route(const std::string& listener, const std::string& route,
                       const std::string& pool) {
    return routes[{listener, route, pool}];
  }
  ListenerCounters& listener(const std::string& name) { return listeners[name]; }
  BackendCounters& backend(const std::string& pool, const std::string& backend) {
    return backends[{pool, backend}];
  }

  void merge(const WorkerMetrics& other);
};

/// The code label of a close code: 3000-4999 as 3xxx and 4xxx.
std::string closeCodeLabel(std::uint16_t code);

/// What the io loop of one worker counts.
struct LoopCounters {
  std::uint64_t iterations = 0;
  std::uint64_t submitted = 0;      // submission entries
  std::uint64_t noBufferStops = 0;  // multishot receives stopped by -ENOBUFS
  std::uint64_t sessions = 0;       // open now
};

}  // namespace wsedge::telemetry
