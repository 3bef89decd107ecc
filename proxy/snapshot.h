// The configuration made ready to serve: addresses resolved, certificates
// loaded, routes bound to pools, limits settled per route. Built off the
// workers (name lookups block), immutable once built, and shared read-only
// by every worker. A session pins the snapshot it was accepted with, so a
// newer one never changes what a live session sees.
//
// What has identity outlives a snapshot: a rebuilt snapshot takes over the
// previous one's per-backend state (health, live sessions) for every backend
// whose pool and address are unchanged, and its ticket keys for every TLS
// listener whose address and rotation are unchanged.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "io/socket_address.h"
#include "proxy/pool/pool_state.h"
#include "tls/certificates.h"
#include "tls/server_context.h"

namespace wsedge::proxy {

struct BackendSnapshot {
  std::string name;  // as written in the configuration
  io::SocketAddress address;
  std::uint32_t weight = 1;
};

struct PoolSnapshot {
  std::string name;
  conf::BalancePolicy policy = conf::BalancePolicy::kRoundRobin;
  std::vector<BackendSnapshot> backends;
  PoolState state;  // by backend, shared by every worker

  std::vector<std::uint32_t> weights() const;
};

struct RouteSnapshot {
  std::string pathPrefix;
  std::size_t pool = 0;  // index into Snapshot::pools
  conf::Limits limits;   // the limits in force for sessions on this route
};

struct ListenerSnapshot {
  std::string name;  // as written
  io::SocketAddress address;
  std::vector<RouteSnapshot> routes;
  /// wss:// when set: loaded and checked once, shared by every worker.
  std::shared_ptr<const tls::CertificateSet> certificates;
  tls::ServerOptions tlsOptions;

  /// The first route, in configuration order, whose prefix starts the path.
  const RouteSnapshot* route(std::string_view path) const;
};

struct Snapshot {
  std::uint64_t generation = 1;  // one more than the snapshot it replaced
  conf::Config config;
  std::vector<ListenerSnapshot> listeners;
  std::vector<PoolSnapshot> pools;
};

/// Resolves every address and loads every certificate, carrying over what
/// has identity from `previous` (may be null). Throws conf::ConfigError with
/// every file:line:col that is wrong. Warnings (an expired certificate) are
/// appended to *warnings.
std::shared_ptr<const Snapshot> buildSnapshot(conf::Config config,
                                              const Snapshot* previous = nullptr,
                                              std::vector<std::string>* warnings = nullptr);

}  // namespace wsedge::proxy
