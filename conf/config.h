// The configuration, as plain data. Loading checks everything that can be
// checked without the network; names are resolved later, at start-up.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
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

struct BackendConfig {
  std::string address;  // as written: HOST:PORT
  std::string host;     // resolved at start-up
  std::uint16_t port = 0;
  SourceLocation where;
  std::uint32_t weight = 1;
};

struct PoolConfig {
  std::string name;
  BalancePolicy balance = BalancePolicy::kRoundRobin;
  std::vector<BackendConfig> backends;
};

struct RouteConfig {
  std::string pathPrefix = "/";
  std::string pool;
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
  std::vector<RouteConfig> routes;
  std::optional<TlsConfig> tls;  // wss:// when present
};

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
  std::uint32_t connectAttempts = 3;
  std::uint32_t maxFragments = 1000;  // per message
  bool validateUtf8 = true;
};

struct Config {
  std::string file;
  std::optional<std::uint32_t> workers;  // empty: one per online CPU ("auto")
  /// Connections (client and backend) one worker holds at most.
  std::uint32_t workerConnections = 1u << 24;
  std::vector<ListenerConfig> listeners;
  std::map<std::string, PoolConfig> pools;
  Limits limits;
  /// Peers whose X-Forwarded-For is believed (appended to); everyone
  /// else's is replaced by their address.
  std::vector<Cidr> trustedProxies;
};

}  // namespace wsedge::conf
