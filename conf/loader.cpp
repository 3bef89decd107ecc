#include "conf/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <set>

#include "conf/units.h"

namespace wsedge::conf {
namespace {

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Thrown by Reader::fail() to abandon the item being read; the error is
// already recorded, and reading goes on with the next item.
struct Skip {};

// Reads one file. Every error names file:line:col and what is wrong there,
// and every error in the file is collected, not just the first.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  SourceLocation at(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    return {file_, m.line + 1, m.column + 1};
  }

  /// Records an error and goes on.
  void note(const YAML::Node& n, const std::string& message) const {
    const YAML::Mark m = n.Mark();
    record(m.line + 1, m.column + 1, message);
  }
  void record(int line, int column, const std::string& message) const {
    errors_.push_back(
        {line, column,
         file_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message});
  }
  /// Records an error and abandons the item being read (see attempt()).
  [[noreturn]] void fail(const YAML::Node& n, const std::string& message) const {
    note(n, message);
    throw Skip{};
  }
  /// Reads one item; an error inside it is recorded and the next item is read.
  template <class Fn>
  void attempt(Fn&& fn) const {
    try {
      fn();
    } catch (const Skip&) {
    } catch (const YAML::Exception& e) {
      // A value of the wrong shape where yaml-cpp converts it (a key that
      // is itself a list, say).
      record(e.mark.line + 1, e.mark.column + 1, e.msg);
    }
  }

  /// Every error, in file order.
  std::vector<std::string> errors() const {
    std::stable_sort(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    std::vector<std::string> out;
    for (const Error& e : errors_) out.push_back(e.text);
    return out;
  }

  // Refuses keys not in `allowed`, suggesting the closest one; each is
  // recorded. Returns whether every key was known (see require()).
  bool checkKeys(const YAML::Node& map, std::string_view what,
                 std::initializer_list<std::string_view> allowed) const {
    bool unknown = false;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.as<std::string>();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string message = "unknown key '" + key + "' in " + std::string(what);
      std::string_view best;
      std::size_t bestDistance = 3;
      for (std::string_view a : allowed) {
        const std::size_t d = editDistance(key, a);
        if (d < bestDistance) bestDistance = d, best = a;
      }
      if (!best.empty()) {
        message += " (did you mean '" + std::string(best) + "'?)";
      } else {
        message += "; expected one of:";
        for (std::string_view a : allowed) message += " " + std::string(a);
      }
      note(it->first, message);
      unknown = true;
    }
    return !unknown;
  }

  // A key the map must have. When the map also had an unknown key (a typo
  // of this one, most likely), its absence is not reported a second time.
  void require(const YAML::Node& map, const char* key, bool keysKnown,
               const std::string& message) const {
    if (map[key]) return;
    if (keysKnown) fail(map, message);
    throw Skip{};
  }

  void expectMap(const YAML::Node& n, std::string_view what) const {
    if (!n.IsMap()) fail(n, std::string(what) + " must be a mapping (key: value)");
  }
  void expectSequence(const YAML::Node& n, std::string_view what) const {
    if (!n.IsSequence()) fail(n, std::string(what) + " must be a list");
  }

  std::string scalar(const YAML::Node& n, std::string_view what) const {
    if (!n.IsScalar()) fail(n, std::string(what) + " must be a single value");
    return n.Scalar();
  }

  HostPort hostPort(const YAML::Node& n, std::string_view what) const {
    const std::string text = scalar(n, what);
    auto hp = parseHostPort(text);
    if (!hp) fail(n, std::string(what) + " must be HOST:PORT (or [IPv6]:PORT), got '" + text + "'");
    return *hp;
  }

  std::uint64_t size(const YAML::Node& n, std::string_view what) const {
    const std::string text = scalar(n, what);
    auto v = parseSize(text);
    if (!v)
      fail(n, std::string(what) + ": '" + text + "' is not a size (such as 16MiB, 64KiB, 4096)");
    return *v;
  }

  std::uint64_t duration(const YAML::Node& n, std::string_view what) const {
    const std::string text = scalar(n, what);
    auto v = parseDurationMs(text);
    if (!v)
      fail(n, std::string(what) + ": '" + text + "' is not a duration (such as 10s, 500ms, 5m)");
    // Longer than any deadline makes sense for, and far from overflowing.
    constexpr std::uint64_t kMaxMs = std::uint64_t{30} * 24 * 3600 * 1000;
    if (*v > kMaxMs) fail(n, std::string(what) + ": '" + text + "' is more than 30 days");
    return *v;
  }

  std::uint64_t integer(const YAML::Node& n, std::string_view what, std::uint64_t lo,
                        std::uint64_t hi) const {
    const std::string text = scalar(n, what);
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi) {
      fail(n, std::string(what) + " must be a whole number from " + std::to_string(lo) + " to " +
                  std::to_string(hi) + ", got '" + text + "'");
    }
    return v;
  }

  bool boolean(const YAML::Node& n, std::string_view what) const {
    const std::string text = scalar(n, what);
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    fail(n, std::string(what) + " must be true or false, got '" + text + "'");
  }

  const std::string& file() const { return file_; }

 private:
  struct Error {
    int line;
    int column;
    std::string text;
  };
  std::string file_;
  mutable std::vector<Error> errors_;
};

// One key of `limits`. Range checks happen here, so a bad value is
// reported where it is written.
void readLimit(const Reader& r, const std::string& key, const YAML::Node& v, Limits& limits,
               bool& frameSet) {
  // 0 means off where off makes sense; elsewhere it is refused with why.
  const auto positive = [&](std::uint64_t ms, const char* why) {
    if (ms == 0) r.fail(v, key + " must be more than 0: " + why);
    return ms;
  };
  if (key == "max_message_size") limits.maxMessageSize = r.size(v, key);
  if (key == "max_frame_size") limits.maxFrameSize = r.size(v, key), frameSet = true;
  if (key == "max_buffered") {
    limits.maxBuffered = r.size(v, key);
    if (limits.maxBuffered < 64 * 1024) r.fail(v, "max_buffered must be at least 64KiB");
  }
  if (key == "handshake_timeout") {
    limits.handshakeTimeoutMs =
        positive(r.duration(v, key), "a client could hold a connection without ever asking");
  }
  if (key == "connect_timeout") {
    limits.connectTimeoutMs =
        positive(r.duration(v, key), "a backend that never answers would hold the client");
  }
  if (key == "backend_timeout") {
    limits.backendTimeoutMs =
        positive(r.duration(v, key), "a backend that never answers the upgrade would hold it");
  }
  if (key == "close_timeout") {
    limits.closeTimeoutMs =
        positive(r.duration(v, key), "a peer that never answers a close would hold the session");
  }
  if (key == "idle_timeout") limits.idleTimeoutMs = r.duration(v, key);
  if (key == "send_timeout") limits.sendTimeoutMs = r.duration(v, key);
  if (key == "connect_attempts") {
    limits.connectAttempts = static_cast<std::uint32_t>(r.integer(v, key, 1, 100));
  }
  if (key == "max_fragments") {
    limits.maxFragments = static_cast<std::uint32_t>(r.integer(v, key, 1, 1'000'000));
  }
  if (key == "validate_utf8") limits.validateUtf8 = r.boolean(v, key);
}

void readLimits(const Reader& r, const YAML::Node& n, Limits& limits) {
  r.expectMap(n, "limits");
  r.checkKeys(n, "limits",
              {"max_message_size", "max_frame_size", "max_buffered", "max_fragments",
               "handshake_timeout", "connect_timeout", "backend_timeout", "idle_timeout",
               "close_timeout", "send_timeout", "connect_attempts", "validate_utf8"});
  bool frameSet = false;
  for (auto it = n.begin(); it != n.end(); ++it) {
    r.attempt([&] { readLimit(r, it->first.as<std::string>(), it->second, limits, frameSet); });
  }
  // A frame can never be larger than a message.
  if (!frameSet || limits.maxFrameSize > limits.maxMessageSize) {
    limits.maxFrameSize = limits.maxMessageSize;
  }
}

BackendConfig readBackend(const Reader& r, const YAML::Node& b) {
  BackendConfig backend;
  backend.where = r.at(b);
  if (b.IsScalar()) {
    backend.address = b.Scalar();
    const HostPort hp = r.hostPort(b, "backend address");
    backend.host = hp.host, backend.port = hp.port;
    return backend;
  }
  r.expectMap(b, "a backend");
  const bool known = r.checkKeys(b, "backend", {"address", "weight"});
  r.require(b, "address", known, "backend needs an 'address'");
  backend.address = r.scalar(b["address"], "address");
  const HostPort hp = r.hostPort(b["address"], "backend address");
  backend.host = hp.host, backend.port = hp.port;
  if (b["weight"]) {
    backend.weight = static_cast<std::uint32_t>(r.integer(b["weight"], "weight", 1, 1000));
  }
  return backend;
}

void readPool(const Reader& r, const YAML::Node& n, PoolConfig& pool) {
  const std::string what = "pool '" + pool.name + "'";
  r.expectMap(n, what);
  const bool known = r.checkKeys(n, what, {"balance", "backends"});
  if (n["balance"]) {
    r.attempt([&] {
      const std::string name = r.scalar(n["balance"], "balance");
      const auto policy = parseBalancePolicy(name);
      if (!policy) {
        r.fail(n["balance"], "unknown balance policy '" + name +
                                 "'; supported: " + std::string(balancePolicyNames()));
      }
      pool.balance = *policy;
    });
  }
  r.require(n, "backends", known, what + " has no 'backends' list");
  const YAML::Node backends = n["backends"];
  r.expectSequence(backends, "backends");
  for (const YAML::Node& b : backends) {
    r.attempt([&] { pool.backends.push_back(readBackend(r, b)); });
  }
}

// A path relative to the configuration file's folder.
std::string relativeTo(const std::string& configFile, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  const std::size_t slash = configFile.rfind('/');
  return slash == std::string::npos ? path : configFile.substr(0, slash + 1) + path;
}

TlsConfig readTls(const Reader& r, const YAML::Node& n) {
  r.expectMap(n, "tls");
  const bool known = r.checkKeys(n, "tls", {"certificates", "min_version", "ticket_key_rotation"});
  TlsConfig tls;
  tls.where = r.at(n);
  r.require(n, "certificates", known,
            "tls needs 'certificates': a list of { cert: FILE, key: FILE }");
  const YAML::Node certs = n["certificates"];
  r.expectSequence(certs, "certificates");
  if (certs.size() == 0) r.fail(certs, "tls needs at least one certificate");
  for (const YAML::Node& c : certs) {
    r.attempt([&] {
      r.expectMap(c, "a certificate");
      const bool keys = r.checkKeys(c, "certificate", {"cert", "key"});
      const std::string both = "a certificate needs both 'cert' and 'key' (PEM files)";
      r.require(c, "cert", keys, both);
      r.require(c, "key", keys, both);
      tls.certificates.push_back({relativeTo(r.file(), r.scalar(c["cert"], "cert")),
                                  relativeTo(r.file(), r.scalar(c["key"], "key")), r.at(c)});
    });
  }
  if (n["min_version"]) {
    r.attempt([&] {
      const std::string v = r.scalar(n["min_version"], "min_version");
      if (v == "1.2") {
        tls.minVersion = 0x0303;
      } else if (v == "1.3") {
        tls.minVersion = 0x0304;
      } else {
        r.fail(n["min_version"], "min_version must be \"1.2\" or \"1.3\", got '" + v + "'");
      }
    });
  }
  if (n["ticket_key_rotation"]) {
    r.attempt([&] {
      tls.ticketRotationMs = r.duration(n["ticket_key_rotation"], "ticket_key_rotation");
      if (tls.ticketRotationMs < 60'000) {
        r.fail(n["ticket_key_rotation"], "ticket_key_rotation must be at least 1m");
      }
    });
  }
  return tls;
}

RouteConfig readRoute(const Reader& r, const YAML::Node& rn, const Config& config) {
  r.expectMap(rn, "a route");
  const bool known = r.checkKeys(rn, "route", {"match", "pool"});
  RouteConfig route;
  if (rn["match"]) {
    r.attempt([&] {
      const YAML::Node m = rn["match"];
      r.expectMap(m, "match");
      r.checkKeys(m, "match", {"path_prefix"});
      if (m["path_prefix"]) {
        route.pathPrefix = r.scalar(m["path_prefix"], "path_prefix");
        if (route.pathPrefix.empty() || route.pathPrefix.front() != '/') {
          r.fail(m["path_prefix"], "path_prefix must start with '/'");
        }
      }
    });
  }
  r.require(rn, "pool", known, "route needs a 'pool'");
  route.pool = r.scalar(rn["pool"], "pool");
  if (!config.pools.count(route.pool)) {
    std::string pools;
    for (const auto& [name, p] : config.pools) pools += (pools.empty() ? "" : ", ") + name;
    r.fail(rn["pool"], "route refers to pool '" + route.pool + "', which is not defined" +
                           (pools.empty() ? "" : " (pools: " + pools + ")"));
  }
  return route;
}

ListenerConfig readListener(const Reader& r, const YAML::Node& n, const Config& config) {
  r.expectMap(n, "a listener");
  const bool known = r.checkKeys(n, "listener", {"address", "tls", "routes"});
  ListenerConfig l;
  r.require(n, "address", known, "listener needs an 'address' (such as 0.0.0.0:8080)");
  l.address = r.scalar(n["address"], "address");
  const HostPort hp = r.hostPort(n["address"], "listener address");
  l.host = hp.host, l.port = hp.port;
  l.where = r.at(n["address"]);
  if (n["tls"]) r.attempt([&] { l.tls = readTls(r, n["tls"]); });
  r.require(n, "routes", known, "listener " + l.address + " has no 'routes'");
  const YAML::Node routes = n["routes"];
  r.expectSequence(routes, "routes");
  if (routes.size() == 0) r.fail(routes, "listener " + l.address + " needs at least one route");
  for (const YAML::Node& rn : routes) {
    r.attempt([&] { l.routes.push_back(readRoute(r, rn, config)); });
  }
  return l;
}

void readTop(const Reader& r, const YAML::Node& root, Config& config) {
  const bool known = r.checkKeys(
      root, "the configuration",
      {"workers", "worker_connections", "listeners", "pools", "limits", "trusted_proxies"});
  if (root["trusted_proxies"]) {
    r.attempt([&] {
      const YAML::Node list = root["trusted_proxies"];
      r.expectSequence(list, "trusted_proxies");
      for (const YAML::Node& item : list) {
        r.attempt([&] {
          const std::string text = r.scalar(item, "a trusted proxy");
          const std::optional<Cidr> cidr = parseCidr(text);
          if (!cidr) {
            r.fail(item, "trusted_proxies: '" + text +
                             "' is not an address or a range (such as 10.0.0.0/8 or ::1)");
          }
          config.trustedProxies.push_back(*cidr);
        });
      }
    });
  }
  if (root["workers"]) {
    r.attempt([&] {
      const std::string w = r.scalar(root["workers"], "workers");
      if (w != "auto") {
        config.workers =
            static_cast<std::uint32_t>(r.integer(root["workers"], "workers (or auto)", 1, 1024));
      }
    });
  }
  if (root["worker_connections"]) {
    r.attempt([&] {
      config.workerConnections = static_cast<std::uint32_t>(r.integer(
          root["worker_connections"], "worker_connections (two per session)", 2, 1u << 24));
    });
  }
  if (root["limits"]) r.attempt([&] { readLimits(r, root["limits"], config.limits); });

  if (!root["pools"]) {
    // Missing because misspelt: that was said; the routes cannot be checked.
    if (!known) return;
    r.record(1, 1, "no 'pools' defined");
  } else {
    r.attempt([&] {
      const YAML::Node pools = root["pools"];
      r.expectMap(pools, "pools");
      for (auto it = pools.begin(); it != pools.end(); ++it) {
        r.attempt([&] {
          const std::string name = it->first.as<std::string>();
          // Known even if its body has errors, so routes naming it do not
          // report a second, misleading error.
          PoolConfig& pool = config.pools[name];
          pool.name = name;
          readPool(r, it->second, pool);
        });
      }
    });
  }

  if (!root["listeners"]) {
    if (known) r.record(1, 1, "no 'listeners' defined");
    return;
  }
  const YAML::Node listeners = root["listeners"];
  r.expectSequence(listeners, "listeners");
  if (listeners.size() == 0) r.fail(listeners, "at least one listener is needed");
  std::set<std::string> seen;
  for (const YAML::Node& ln : listeners) {
    r.attempt([&] {
      ListenerConfig l = readListener(r, ln, config);
      if (!seen.insert(l.host + ":" + std::to_string(l.port)).second) {
        r.fail(ln["address"], "listener address " + l.address + " is used twice");
      }
      config.listeners.push_back(std::move(l));
    });
  }
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> errors)
    : std::runtime_error(join(errors)), errors_(std::move(errors)) {}

std::string ConfigError::join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += (out.empty() ? "" : "\n") + l;
  return out;
}

std::string SourceLocation::toString() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

namespace {

ConfigError syntaxError(const std::string& file, const YAML::ParserException& e) {
  return ConfigError(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                     std::to_string(e.mark.column + 1) + ": " + e.msg);
}

}  // namespace

Config loadConfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError(path + ": cannot read the file");
  } catch (const YAML::ParserException& e) {
    throw syntaxError(path, e);
  }
  return parseConfig(root, path);
}

Config loadConfigFromString(const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw syntaxError(name, e);
  }
  return parseConfig(root, name);
}

Config parseConfig(const YAML::Node& root, const std::string& file) {
  const Reader r(file);
  Config config;
  config.file = file;
  if (!root.IsMap()) throw ConfigError(file + ":1:1: the configuration must be a mapping");
  r.attempt([&] { readTop(r, root, config); });
  std::vector<std::string> errors = r.errors();
  if (!errors.empty()) throw ConfigError(std::move(errors));
  return config;
}

}  // namespace wsedge::conf
