#include "proxy/snapshot.h"

#include <map>
#include <optional>

#include "conf/loader.h"

namespace wsedge::proxy {
namespace {

// What a previous snapshot hands on, by identity.
struct CarryOver {
  std::map<std::string, std::shared_ptr<BackendState>> backends;       // "pool address"
  std::map<std::string, std::shared_ptr<tls::TicketKeys>> ticketKeys;  // "address rotation"

  static std::string backendKey(const std::string& pool, const io::SocketAddress& a) {
    return pool + " " + a.toString();
  }
  static std::string listenerKey(const io::SocketAddress& a, std::uint64_t rotationSeconds) {
    return a.toString() + " " + std::to_string(rotationSeconds);
  }

  explicit CarryOver(const Snapshot* previous) {
    if (!previous) return;
    for (const PoolSnapshot& p : previous->pools) {
      for (std::size_t i = 0; i < p.backends.size(); ++i) {
        backends[backendKey(p.name, p.backends[i].address)] = p.state.shared(i);
      }
    }
    for (const ListenerSnapshot& l : previous->listeners) {
      if (const auto& keys = l.tlsOptions.ticketKeys) {
        ticketKeys[listenerKey(l.address, keys->rotationSeconds())] = keys;
      }
    }
  }

  std::shared_ptr<BackendState> backend(const std::string& pool, const io::SocketAddress& a) {
    auto it = backends.find(backendKey(pool, a));
    return it != backends.end() ? it->second : std::make_shared<BackendState>();
  }

  std::shared_ptr<tls::TicketKeys> keys(const io::SocketAddress& a, std::uint64_t rotation) {
    auto it = ticketKeys.find(listenerKey(a, rotation));
    return it != ticketKeys.end() ? it->second : std::make_shared<tls::TicketKeys>(rotation);
  }
};

// Resolves what the configuration names; a failure is recorded as an error.
std::optional<io::SocketAddress> resolve(const std::string& host, std::uint16_t port,
                                         const std::string& what,
                                         std::vector<std::string>& errors) {
  std::string error;
  auto addr = io::SocketAddress::resolve(host, port, &error);
  if (!addr) errors.push_back(what + ": " + error);
  return addr;
}

}  // namespace

std::vector<std::uint32_t> PoolSnapshot::weights() const {
  std::vector<std::uint32_t> w;
  for (const BackendSnapshot& b : backends) w.push_back(b.weight);
  return w;
}

const RouteSnapshot* ListenerSnapshot::route(std::string_view path) const {
  for (const RouteSnapshot& r : routes) {
    if (path.substr(0, r.pathPrefix.size()) == r.pathPrefix) return &r;
  }
  return nullptr;
}

std::shared_ptr<const Snapshot> buildSnapshot(conf::Config config, const Snapshot* previous,
                                              std::vector<std::string>* warnings) {
  auto snap = std::make_shared<Snapshot>();
  snap->generation = previous ? previous->generation + 1 : 1;
  CarryOver carry(previous);
  std::vector<std::string> errors;
  std::map<std::string, std::size_t> poolIndex;
  for (const auto& [name, pool] : config.pools) {
    PoolSnapshot p;
    p.name = name;
    p.policy = pool.balance;
    std::vector<std::shared_ptr<BackendState>> states;
    for (const conf::BackendConfig& b : pool.backends) {
      auto addr = resolve(b.host, b.port, b.where.toString() + ": backend " + b.address, errors);
      if (!addr) continue;
      p.backends.push_back({b.address, *addr, b.weight});
      states.push_back(carry.backend(name, *addr));
    }
    p.state = PoolState(std::move(states));
    poolIndex[name] = snap->pools.size();
    snap->pools.push_back(std::move(p));
  }
  std::vector<std::string> listenerAt;  // where each listener is written
  for (const conf::ListenerConfig& l : config.listeners) {
    auto addr = resolve(l.host, l.port, l.where.toString() + ": listener " + l.address, errors);
    if (!addr) continue;
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
    ListenerSnapshot ls{l.address, *addr, {}, nullptr, {}};
    for (const conf::RouteConfig& r : l.routes) {
      ls.routes.push_back({r.pathPrefix, poolIndex.at(r.pool), config.limits});
    }
    if (l.tls) {
      std::vector<tls::CertificateSpec> specs;
      for (const conf::CertificateConfig& c : l.tls->certificates) {
        specs.push_back({c.cert, c.key, c.where.toString()});
      }
      try {
        ls.certificates = tls::loadCertificates(specs);
      } catch (const tls::TlsConfigError& e) {
        errors.push_back(e.what());
        continue;
      }
      if (warnings) {
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
  snap->config = std::move(config);
  return snap;
}

}  // namespace wsedge::proxy
