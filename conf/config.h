// The configuration, as plain data. Loading checks everything that can be
// checked without the network; names are resolved later, at start-up.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conf/balance_policy.h"
#include "conf/cidr.h"

namespace wsedge::conf {

/// Where a value came from, for errors found after loading.
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based
  int column = 0;  // 1-based
  std::string toString() const;
};

/// What a session may do; global `limits:`, overridden per pool, then per
/// route. Each route ends up with the effective set.
struct Limits {
  std::uint64_t maxMessageSize = std::uint64_t{16} << 20;
  std::uint64_t maxFrameSize = std::uint64_t{16} << 20;
  std::uint64_t maxBuffered = std::uint64_t{1} << 20;  // per direction
  std::uint64_t handshakeTimeoutMs = 10'000;
  std::uint64_t connectTimeoutMs = 5'000;
  std::uint64_t backendTimeoutMs = 10'000;  // for the backend's answer to the upgrade
  std::uint64_t idleTimeoutMs = 300'000;    // 0: off
  std::uint64_t closeTimeoutMs = 5'000;
  std::uint64_t sendTimeoutMs = 60'000;  // a queue that makes no progress this long; 0: off
  std::uint32_t maxFragments = 1000;     // per message
  bool validateUtf8 = true;
  // Per-connection rate of data messages from the client (0: no limit).
  double messageRate = 0;
  double messageBurst = 0;     // tokens; defaults to one second's worth
  bool closeOverRate = false;  // otherwise the client is paused
  // Keepalive per hop (0: off).
  std::uint64_t pingIntervalMs = 0;
  std::uint64_t pingTimeoutMs = 10'000;
  // Closes of a drain (SIGTERM, a backend drained or removed) are spread over this.
  std::uint64_t drainWindowMs = 10'000;
  // Plain HTTP on the same listeners.
  std::uint64_t keepaliveTimeoutMs = 60'000;  // an idle client connection between requests
  std::uint32_t maxRequestsPerConnection = 1000;
  std::uint64_t maxRequestBody = std::uint64_t{16} << 20;
  std::uint64_t responseTimeoutMs = 60'000;  // no response head, or no progress, this long
  std::uint32_t upstreamMaxIdle = 32;  // idle backend connections kept, per worker and backend
  std::uint64_t upstreamIdleTimeoutMs = 30'000;
  bool frameSizeSet = false;  // max_frame_size was written (else it follows the message size)
};

enum class HealthCheckType : std::uint8_t { kWebSocket, kTcp };

struct HealthCheckConfig {
  std::uint64_t intervalMs = 5'000;
  std::uint64_t timeoutMs = 2'000;
  std::uint32_t healthyThreshold = 2;
  std::uint32_t unhealthyThreshold = 3;
  std::string path = "/";
  HealthCheckType type = HealthCheckType::kWebSocket;
};

struct OutlierConfig {
  std::uint32_t consecutiveFailures = 5;
  std::uint64_t ejectionMs = 30'000;
};

/// What a hash policy hashes.
struct HashKey {
  enum class Source : std::uint8_t { kSourceIp, kHeader, kCookie, kQuery };
  Source source = Source::kSourceIp;
  std::string name;  // for header, cookie and query
};

struct BackendConfig {
  std::string address;  // as written: HOST:PORT
  std::string host;     // resolved at start-up, and again every resolve_interval
  std::uint16_t port = 0;
  SourceLocation where;
  std::uint32_t weight = 1;
  std::uint32_t maxConnections = 0;  // live sessions at most; 0: no limit
};

struct PoolConfig {
  std::string name;
  SourceLocation where;
  BalancePolicy balance = BalancePolicy::kRoundRobin;
  HashKey hashKey;
  std::vector<BackendConfig> backends;
  std::uint64_t resolveIntervalMs = 30'000;  // 0: names are resolved once
  std::optional<HealthCheckConfig> healthCheck;
  std::optional<OutlierConfig> outlier;
  std::uint32_t retries = 2;  // other backends tried after a failure
  std::string stickyCookie;   // sticky: { cookie: NAME }: affinity by a cookie wsedge sets
  Limits limits;              // global limits with the pool's overrides
};

struct HeaderMatch {
  std::string name;
  std::string value;
};

struct RouteMatch {
  std::optional<std::string> path;         // exact
  std::optional<std::string> pathPrefix;   // on segment boundaries
  std::optional<std::string> pathRegex;    // RE2, whole path
  std::optional<std::string> host;         // exact or *.suffix, any case, port ignored
  std::vector<HeaderMatch> headers;        // all must be present with these values
  std::vector<HeaderMatch> queries;        // query parameters, likewise
  std::optional<std::string> subprotocol;  // offered in Sec-WebSocket-Protocol
  std::optional<bool> upgrade;             // true: WebSocket upgrades only; false: plain HTTP only
};

/// Push on a route. channels: path (a push-only route): the edge answers the
/// upgrade itself and delivers what is published to the channels the
/// request names. from_backend (a proxied route): the backend's 101 grants
/// channels in Wsedge-Subscribe, and pushes are interleaved with its own
/// messages; with `control`, its {"wsedge": {...}} messages change them.
struct PushConfig {
  enum class Grant : std::uint8_t { kPath, kBackend, kBackendControl };
  Grant grant = Grant::kPath;
  std::uint32_t maxChannels = 16;
  bool closeOnClientMessage = false;  // client_messages: close (1003); else ignored
  /// from_backend: control: what a control message must carry as "key"
  /// (empty: nothing).
  std::string controlKey;
  bool pushOnly() const { return grant == Grant::kPath; }
};

/// The bus between instances (pubsub.redis): each worker subscribes to
/// prefix + channel for the channels its clients hold.
struct RedisConfig {
  std::string address;  // host:port, as written
  std::string host;
  std::uint16_t port = 6379;
  std::string prefix = "wsedge:";
  std::string password;  // AUTH, when set
  SourceLocation where;
};

struct RouteConfig {
  std::string name;  // for metrics and the access log; "LISTENER#N" unless written
  RouteMatch match;
  std::string pool;  // empty for a push-only route
  std::optional<PushConfig> push;
  SourceLocation where;
  std::vector<std::string> allowedOrigins;  // empty: any; entries may be https://*.example.com
  std::optional<std::string> rewritePrefix;
  std::vector<std::pair<std::string, std::string>> addHeaders;  // set on the backend request
  std::vector<std::string> removeHeaders;
  Limits limits;  // effective: global, the pool's, then the route's own
};

struct CertificateConfig {
  std::string cert;  // PEM file: the certificate, then its chain
  std::string key;   // PEM file: the private key
  SourceLocation where;
};

struct TlsConfig {
  std::vector<CertificateConfig> certificates;  // the first is the default
  std::uint16_t minVersion = 0x0303;            // TLS 1.2; or 0x0304 for "1.3"
  std::uint64_t ticketRotationMs = 3'600'000;   // session ticket keys change this often
  SourceLocation where;
};

struct ListenerConfig {
  std::string address;  // as written: HOST:PORT
  std::string host;
  std::uint16_t port = 0;
  SourceLocation where;
  std::uint32_t maxConnections = 0;  // client connections, over all workers; 0: no limit
  std::vector<RouteConfig> routes;
  std::optional<TlsConfig> tls;  // wss:// when present
};

/// The admin API: off unless configured.
struct AdminConfig {
  std::string address;  // as written: HOST:PORT
  std::string host;
  std::uint16_t port = 0;
  std::string token;  // when set, every request needs "Authorization: Bearer TOKEN"
  SourceLocation where;
};

struct AccessLogConfig {
  std::string path;                     // a file, or "stdout"
  std::uint64_t bufferBytes = 1 << 20;  // per worker; a full buffer drops lines
};

struct Config {
  std::string file;
  std::string text;                      // the file as it was read (its hash identifies it)
  std::optional<std::uint32_t> workers;  // empty: one per online CPU ("auto")
  /// Connections (client and backend) one worker holds at most.
  std::uint32_t workerConnections = 1u << 24;
  std::vector<ListenerConfig> listeners;
  std::map<std::string, PoolConfig> pools;
  Limits limits;
  /// Peers whose X-Forwarded-For is believed (appended to); everyone
  /// else's is replaced by their address.
  std::vector<Cidr> trustedProxies;
  std::optional<AdminConfig> admin;
  std::optional<AccessLogConfig> accessLog;
  std::uint64_t pubsubQueue = std::uint64_t{1} << 20;  // per subscriber; beyond it, close 1013
  std::optional<RedisConfig> redis;                    // none: the in-process bus
};

}  // namespace wsedge::conf
