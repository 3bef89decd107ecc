#include "proxy/snapshot.h"

#include <algorithm>
#include <map>

#include "conf/loader.h"
#include "tls/digest.h"

namespace wsedge::proxy {
namespace {

// What a previous snapshot hands on, by identity.
struct CarryOver {
  std::map<std::string, std::shared_ptr<BackendState>> backends;       // "pool address"
  std::map<std::string, std::shared_ptr<tls::TicketKeys>> ticketKeys;  // "address rotation"
  std::map<std::string, std::shared_ptr<std::atomic<std::uint32_t>>> listeners;  // address
  std::map<std::string, std::vector<io::SocketAddress>> resolved;                // "pool written"
  const Snapshot* previous = nullptr;

  static std::string backendKey(const std::string& pool, const std::string& address) {
    return pool + " " + address;
  }

  explicit CarryOver(const Snapshot* previous) : previous(previous) {
    if (!previous) return;
    for (const PoolSnapshot& p : previous->pools) {
      for (std::size_t i = 0; i < p.backends.size(); ++i) {
        const BackendSnapshot& b = p.backends[i];
        backends[backendKey(p.name, b.address.toString())] = p.state.shared(i);
        resolved[backendKey(p.name, b.written)].push_back(b.address);
      }
    }
    for (const ListenerSnapshot& l : previous->listeners) {
      listeners[l.address.toString()] = l.active;
      if (const auto& keys = l.tlsOptions.ticketKeys) {
        ticketKeys[l.address.toString() + " " + std::to_string(keys->rotationSeconds())] = keys;
      }
    }
  }

  std::shared_ptr<BackendState> backend(const std::string& pool, const io::SocketAddress& a) {
    auto it = backends.find(backendKey(pool, a.toString()));
    return it != backends.end() ? it->second : std::make_shared<BackendState>();
  }
  std::shared_ptr<tls::TicketKeys> keys(const io::SocketAddress& a, std::uint64_t rotation) {
    auto it = ticketKeys.find(a.toString() + " " + std::to_string(rotation));
    return it != ticketKeys.end() ? it->second : std::make_shared<tls::TicketKeys>(rotation);
  }
  std::shared_ptr<std::atomic<std::uint32_t>> active(const io::SocketAddress& a) {
    auto it = listeners.find(a.toString());
    return it != listeners.end() ? it->second : std::make_shared<std::atomic<std::uint32_t>>(0);
  }
};

// Every address of a backend as written. On a refresh, a pool that is not
// due keeps its addresses, and a failed lookup keeps them too; otherwise a
// failure is an error.
std::vector<io::SocketAddress> resolveBackend(const std::string& pool, const conf::BackendConfig& b,
                                              CarryOver& carry, const Refresh* refresh,
                                              std::vector<std::string>& errors,
                                              std::vector<std::string>* warnings) {
  const auto previous = carry.resolved.find(CarryOver::backendKey(pool, b.address));
  const bool had = refresh && previous != carry.resolved.end();
  if (had && !refresh->pools.count(pool)) return previous->second;
  std::string error;
  std::vector<io::SocketAddress> addrs = io::SocketAddress::resolveAll(b.host, b.port, &error);
  if (!addrs.empty()) return addrs;
  const std::string what = b.where.toString() + ": backend " + b.address + ": " + error;
  if (had) {
    if (warnings) warnings->push_back(what + " (the addresses it had are kept)");
    return previous->second;
  }
  errors.push_back(what);
  return {};
}

std::string affinityOf(const std::string& pool, const io::SocketAddress& address) {
  return tls::sha256Hex("wsedge affinity\n" + pool + "\n" + address.toString(), 8);
}

void buildPool(PoolSnapshot& p, const conf::PoolConfig& pool, CarryOver& carry,
               const Refresh* refresh, std::vector<std::string>& errors,
               std::vector<std::string>* warnings) {
  p.name = pool.name;
  p.config = &pool;
  std::vector<std::shared_ptr<BackendState>> states;
  for (const conf::BackendConfig& b : pool.backends) {
    const std::vector<io::SocketAddress> addrs =
        resolveBackend(pool.name, b, carry, refresh, errors, warnings);
    // A name with several addresses is several backends, each with its weight.
    const bool named = !io::SocketAddress::isNumeric(b.host);
    for (const io::SocketAddress& a : addrs) {
      // An address the pool already has (a name that resolves to a backend
      // also listed) is one backend, with one state.
      const auto same = [&](const BackendSnapshot& o) {
        return o.address.toString() == a.toString();
      };
      if (std::any_of(p.backends.begin(), p.backends.end(), same)) {
        if (warnings) {
          warnings->push_back(b.where.toString() + ": backend " + b.address + " (" + a.toString() +
                              ") is already in pool " + pool.name + "; it counts once");
        }
        continue;
      }
      p.backends.push_back({named ? b.address + " (" + a.toString() + ")" : b.address, b.address, a,
                            b.weight, affinityOf(pool.name, a)});
      std::shared_ptr<BackendState> state = carry.backend(pool.name, a);
      state->maxConnections.store(b.maxConnections, std::memory_order_relaxed);
      states.push_back(std::move(state));
    }
  }
  p.state = PoolState(std::move(states));
  if (pool.balance == conf::BalancePolicy::kHash && !p.backends.empty()) {
    std::vector<std::string> identities;
    for (const BackendSnapshot& b : p.backends) identities.push_back(b.address.toString());
    p.maglev = std::make_shared<MaglevTable>(identities, p.weights());
  }
}

}  // namespace

std::optional<std::size_t> PoolSnapshot::byAffinity(std::string_view value) const {
  for (std::size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].affinity == value) return i;
  }
  return std::nullopt;
}

std::vector<std::uint32_t> PoolSnapshot::weights() const {
  std::vector<std::uint32_t> w;
  for (const BackendSnapshot& b : backends) w.push_back(b.weight);
  return w;
}

const RouteSnapshot* ListenerSnapshot::route(const RequestView& request) const {
  for (const RouteSnapshot& r : routes) {
    if (r.matcher.matches(request)) return &r;
  }
  return nullptr;
}

std::shared_ptr<const Snapshot> buildSnapshot(conf::Config config, const Snapshot* previous,
                                              std::vector<std::string>* warnings,
                                              const Refresh* refresh) {
  auto snap = std::make_shared<Snapshot>();
  snap->generation = previous ? previous->generation + 1 : 1;
  snap->config = std::move(config);
  const conf::Config& cfg = snap->config;
  CarryOver carry(previous);
  std::vector<std::string> errors;
  std::map<std::string, std::size_t> poolIndex;
  for (const auto& [name, pool] : cfg.pools) {
    PoolSnapshot p;
    buildPool(p, pool, carry, refresh, errors, warnings);
    poolIndex[name] = snap->pools.size();
    snap->pools.push_back(std::move(p));
  }
  if (cfg.redis) {
    std::string error;
    snap->redis = refresh && previous->redis
                      ? previous->redis
                      : io::SocketAddress::resolve(cfg.redis->host, cfg.redis->port, &error);
    if (!snap->redis) {
      errors.push_back(cfg.redis->where.toString() + ": redis " + cfg.redis->address + ": " +
                       error);
    }
  }
  std::vector<std::string> listenerAt;  // where each listener is written
  for (const conf::ListenerConfig& l : cfg.listeners) {
    // A refresh takes the listeners over as they are, in the same order.
    const ListenerSnapshot* same = refresh && snap->listeners.size() < previous->listeners.size()
                                       ? &previous->listeners[snap->listeners.size()]
                                       : nullptr;
    std::string error;
    auto addr =
        same ? std::optional(same->address) : io::SocketAddress::resolve(l.host, l.port, &error);
    if (!addr) {
      errors.push_back(l.where.toString() + ": listener " + l.address + ": " + error);
      continue;
    }
    // Two listeners that would share a port split its traffic between them
    // without a word: refuse it, naming both.
    bool collides = false;
    for (std::size_t i = 0; i < snap->listeners.size() && !collides; ++i) {
      if (!snap->listeners[i].address.overlaps(*addr)) continue;
      collides = true;
      errors.push_back(l.where.toString() + ": listener " + l.address + " (" + addr->toString() +
                       ") takes the same port as listener " + snap->listeners[i].name + " at " +
                       listenerAt[i]);
    }
    if (collides) continue;
    ListenerSnapshot ls;
    ls.name = l.address;
    ls.address = *addr;
    ls.maxConnections = l.maxConnections;
    ls.active = carry.active(*addr);
    for (std::size_t i = 0; i < l.routes.size(); ++i) {
      const conf::RouteConfig& r = l.routes[i];
      const std::size_t pool =
          r.push && r.push->pushOnly() ? RouteSnapshot::kNoPool : poolIndex.at(r.pool);
      ls.routes.push_back(
          {i, RouteMatcher(r.match), pool, &r, r.limits, OriginPolicy(r.allowedOrigins)});
    }
    if (l.tls) {
      std::vector<tls::CertificateSpec> specs;
      for (const conf::CertificateConfig& c : l.tls->certificates) {
        specs.push_back({c.cert, c.key, c.where.toString()});
      }
      try {
        ls.certificates = same ? same->certificates : tls::loadCertificates(specs);
      } catch (const tls::TlsConfigError& e) {
        errors.push_back(e.what());
        continue;
      }
      if (warnings && !same) {
        warnings->insert(warnings->end(), ls.certificates->warnings.begin(),
                         ls.certificates->warnings.end());
      }
      ls.tlsOptions.minVersion = l.tls->minVersion;
      ls.tlsOptions.ticketKeys = carry.keys(*addr, l.tls->ticketRotationMs / 1000);
    }
    listenerAt.push_back(l.where.toString());
    snap->listeners.push_back(std::move(ls));
  }
  if (!errors.empty()) throw conf::ConfigError(std::move(errors));
  return snap;
}

bool sameAddresses(const Snapshot& a, const Snapshot& b) {
  if (a.pools.size() != b.pools.size()) return false;
  for (std::size_t i = 0; i < a.pools.size(); ++i) {
    const auto& x = a.pools[i].backends;
    const auto& y = b.pools[i].backends;
    if (x.size() != y.size()) return false;
    for (std::size_t k = 0; k < x.size(); ++k) {
      if (x[k].address.toString() != y[k].address.toString()) return false;
    }
  }
  return true;
}

}  // namespace wsedge::proxy
