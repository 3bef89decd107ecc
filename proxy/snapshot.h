// The configuration made ready to serve: addresses resolved, certificates
// loaded, routes compiled and bound to pools, limits settled per route,
// Maglev tables built. Built off the workers (name lookups block),
// immutable once built, and shared read-only by every worker. A session
// pins the snapshot it was accepted with, so a newer one never changes what
// a live session sees.
//
// What has identity outlives a snapshot: a rebuilt snapshot takes over the
// previous one's per-backend state (health, live sessions) for every backend
// whose pool and address are unchanged, its ticket keys for every TLS
// listener whose address and rotation are unchanged, and its connection
// count for every listener whose address is unchanged.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conf/config.h"
#include "io/socket_address.h"
#include "proxy/pool/maglev.h"
#include "proxy/pool/pool_state.h"
#include "proxy/route/origin_policy.h"
#include "proxy/route/route_matcher.h"
#include "tls/certificates.h"
#include "tls/server_context.h"

namespace wsedge::proxy {

struct BackendSnapshot {
  std::string name;     // as written, with the address when it came from a name
  std::string written;  // the address as written (HOST:PORT)
  io::SocketAddress address;
  std::uint32_t weight = 1;
  /// What a sticky pool's cookie says for this backend: a hash of its pool
  /// and address, the same in every process, naming no address.
  std::string affinity;
};

struct PoolSnapshot {
  std::string name;
  const conf::PoolConfig* config = nullptr;  // inside the snapshot's own config
  std::vector<BackendSnapshot> backends;
  PoolState state;                            // by backend, shared by every worker
  std::shared_ptr<const MaglevTable> maglev;  // balance: hash only

  std::vector<std::uint32_t> weights() const;
  /// The backend a sticky cookie's value names, if any.
  std::optional<std::size_t> byAffinity(std::string_view value) const;
};

struct RouteSnapshot {
  std::size_t index = 0;  // in its listener, from 0, as written
  RouteMatcher matcher;
  static constexpr std::size_t kNoPool = ~std::size_t{0};
  std::size_t pool = 0;  // index into Snapshot::pools; kNoPool for a push-only route
  const conf::RouteConfig* config = nullptr;
  conf::Limits limits;  // in force for sessions on this route
  OriginPolicy origins;
};

struct ListenerSnapshot {
  std::string name;  // as written
  io::SocketAddress address;
  std::vector<RouteSnapshot> routes;
  /// wss:// when set: loaded and checked once, shared by every worker.
  std::shared_ptr<const tls::CertificateSet> certificates;
  tls::ServerOptions tlsOptions;
  std::uint32_t maxConnections = 0;  // 0: no limit
  /// Client connections open on this listener, over every worker.
  std::shared_ptr<std::atomic<std::uint32_t>> active;

  /// The first route, in configuration order, that matches the request.
  const RouteSnapshot* route(const RequestView& request) const;
};

struct Snapshot {
  std::uint64_t generation = 1;  // one more than the snapshot it replaced
  conf::Config config;
  std::vector<ListenerSnapshot> listeners;
  std::vector<PoolSnapshot> pools;
  std::optional<io::SocketAddress> redis;  // pubsub.redis, resolved
};

/// A refresh of the previous snapshot, with the same configuration: only
/// the names of these pools are looked up again (a lookup that fails keeps
/// the addresses they had); everything else, listeners and certificates
/// included, is taken over as it is.
struct Refresh {
  std::set<std::string> pools;
};

/// Resolves every address and loads every certificate, carrying over what
/// has identity from `previous` (may be null). Throws conf::ConfigError with
/// every file:line:col that is wrong. Warnings (an expired certificate, a
/// name that no longer resolves) are appended to *warnings.
std::shared_ptr<const Snapshot> buildSnapshot(conf::Config config,
                                              const Snapshot* previous = nullptr,
                                              std::vector<std::string>* warnings = nullptr,
                                              const Refresh* refresh = nullptr);

/// Whether two snapshots of the same configuration resolved the same
/// addresses (so re-resolving changed nothing).
bool sameAddresses(const Snapshot& a, const Snapshot& b);

}  // namespace wsedge::proxy
