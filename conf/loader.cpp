#include "conf/loader.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <set>

#include "conf/origin.h"
#include "conf/units.h"

namespace wsedge::conf {
namespace {

// An HTTP field name: one or more token characters (RFC 9110 §5.6.2).
bool isFieldName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

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
void readLimit(const Reader& r, const std::string& key, const YAML::Node& v, Limits& limits) {
  // 0 means off where off makes sense; elsewhere it is refused with why.
  const auto positive = [&](std::uint64_t ms, const char* why) {
    if (ms == 0) r.fail(v, key + " must be more than 0: " + why);
    return ms;
  };
  if (key == "max_message_size") limits.maxMessageSize = r.size(v, key);
  if (key == "max_frame_size") limits.maxFrameSize = r.size(v, key), limits.frameSizeSet = true;
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
  if (key == "ping_timeout") {
    limits.pingTimeoutMs = positive(r.duration(v, key), "an unanswered ping would never count");
  }
  if (key == "idle_timeout") limits.idleTimeoutMs = r.duration(v, key);
  if (key == "send_timeout") limits.sendTimeoutMs = r.duration(v, key);
  if (key == "ping_interval") limits.pingIntervalMs = r.duration(v, key);
  if (key == "drain_window") limits.drainWindowMs = r.duration(v, key);
  if (key == "keepalive_timeout") {
    limits.keepaliveTimeoutMs =
        positive(r.duration(v, key), "an idle client connection would be held for ever");
  }
  if (key == "response_timeout") {
    limits.responseTimeoutMs =
        positive(r.duration(v, key), "a backend that never answers would hold the request");
  }
  if (key == "max_requests_per_connection") {
    limits.maxRequestsPerConnection =
        static_cast<std::uint32_t>(r.integer(v, key, 1, 1'000'000'000));
  }
  if (key == "max_request_body") limits.maxRequestBody = r.size(v, key);
  if (key == "upstream_keepalive") {
    r.expectMap(v, "upstream_keepalive");
    r.checkKeys(v, "upstream_keepalive", {"max_idle", "idle_timeout"});
    if (v["max_idle"]) {
      limits.upstreamMaxIdle =
          static_cast<std::uint32_t>(r.integer(v["max_idle"], "max_idle", 0, 100'000));
    }
    if (v["idle_timeout"]) {
      limits.upstreamIdleTimeoutMs = r.duration(v["idle_timeout"], "idle_timeout");
      if (limits.upstreamIdleTimeoutMs == 0) {
        r.fail(v["idle_timeout"], "idle_timeout must be more than 0 (max_idle: 0 keeps none)");
      }
    }
  }
  if (key == "max_fragments") {
    limits.maxFragments = static_cast<std::uint32_t>(r.integer(v, key, 1, 1'000'000));
  }
  if (key == "validate_utf8") limits.validateUtf8 = r.boolean(v, key);
  if (key == "message_rate") {
    r.expectMap(v, "message_rate");
    const bool known = r.checkKeys(v, "message_rate", {"per_second", "burst", "over_rate"});
    r.require(v, "per_second", known, "message_rate needs 'per_second'");
    limits.messageRate =
        static_cast<double>(r.integer(v["per_second"], "per_second", 1, 1'000'000));
    limits.messageBurst = v["burst"]
                              ? static_cast<double>(r.integer(v["burst"], "burst", 1, 10'000'000))
                              : limits.messageRate;
    if (v["over_rate"]) {
      const std::string what = r.scalar(v["over_rate"], "over_rate");
      if (what != "pause" && what != "close") {
        r.fail(v["over_rate"], "over_rate must be pause or close, got '" + what + "'");
      }
      limits.closeOverRate = what == "close";
    }
  }
}

// `limits:` on top of what is already in force (global, pool, route).
void readLimits(const Reader& r, const YAML::Node& n, Limits& limits) {
  r.expectMap(n, "limits");
  r.checkKeys(n, "limits", {"max_message_size",  "max_frame_size",    "max_buffered",
                            "max_fragments",     "handshake_timeout", "connect_timeout",
                            "backend_timeout",   "idle_timeout",      "close_timeout",
                            "send_timeout",      "validate_utf8",     "message_rate",
                            "ping_interval",     "ping_timeout",      "drain_window",
                            "keepalive_timeout", "response_timeout",  "max_requests_per_connection",
                            "max_request_body",  "upstream_keepalive"});
  for (auto it = n.begin(); it != n.end(); ++it) {
    r.attempt([&] { readLimit(r, it->first.as<std::string>(), it->second, limits); });
  }
  // A frame can never be larger than a message; unless written, it follows it.
  if (!limits.frameSizeSet || limits.maxFrameSize > limits.maxMessageSize) {
    limits.maxFrameSize = limits.maxMessageSize;
  }
}

// Between two requests a client connection has no route: what governs it
// there is global only.
void refuseConnectionLimits(const Reader& r, const YAML::Node& n, const std::string& whose) {
  if (!n.IsMap()) return;
  for (const char* key : {"keepalive_timeout", "max_requests_per_connection"}) {
    if (n[key]) {
      r.fail(n[key], std::string(key) + " belongs in the global limits (a client connection " +
                         "between requests has no route), not " + whose);
    }
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
  const bool known = r.checkKeys(b, "backend", {"address", "weight", "max_connections"});
  r.require(b, "address", known, "backend needs an 'address'");
  // Each field is checked, so that every error in the backend is reported.
  bool ok = true;
  const auto field = [&](const char* key, auto&& read) {
    if (!b[key]) return;
    bool done = false;
    r.attempt([&] {
      read(b[key]);
      done = true;
    });
    ok = ok && done;
  };
  field("address", [&](const YAML::Node& n) {
    backend.address = r.scalar(n, "address");
    const HostPort hp = r.hostPort(n, "backend address");
    backend.host = hp.host, backend.port = hp.port;
  });
  field("weight", [&](const YAML::Node& n) {
    backend.weight = static_cast<std::uint32_t>(r.integer(n, "weight", 1, 1000));
  });
  field("max_connections", [&](const YAML::Node& n) {
    backend.maxConnections =
        static_cast<std::uint32_t>(r.integer(n, "max_connections", 1, 100'000'000));
  });
  if (!ok) throw Skip{};  // recorded above
  return backend;
}

HashKey readHashKey(const Reader& r, const YAML::Node& n) {
  const std::string text = r.scalar(n, "hash_key");
  HashKey key;
  const std::size_t colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  const std::string name = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (kind == "source_ip" && colon == std::string::npos) return key;
  if ((kind == "header" || kind == "cookie" || kind == "query") && !name.empty()) {
    key.source = kind == "header"   ? HashKey::Source::kHeader
                 : kind == "cookie" ? HashKey::Source::kCookie
                                    : HashKey::Source::kQuery;
    key.name = name;
    return key;
  }
  r.fail(n,
         "hash_key must be source_ip, header:NAME, cookie:NAME or query:NAME, got '" + text + "'");
}

HealthCheckConfig readHealthCheck(const Reader& r, const YAML::Node& n) {
  r.expectMap(n, "health_check");
  r.checkKeys(n, "health_check",
              {"interval", "timeout", "healthy_threshold", "unhealthy_threshold", "path", "type"});
  HealthCheckConfig h;
  const auto positive = [&](const char* key, std::uint64_t& out) {
    if (!n[key]) return;
    r.attempt([&] {
      out = r.duration(n[key], key);
      if (out == 0) r.fail(n[key], std::string(key) + " must be more than 0");
    });
  };
  positive("interval", h.intervalMs);
  positive("timeout", h.timeoutMs);
  if (n["healthy_threshold"]) {
    r.attempt([&] {
      h.healthyThreshold = static_cast<std::uint32_t>(
          r.integer(n["healthy_threshold"], "healthy_threshold", 1, 100));
    });
  }
  if (n["unhealthy_threshold"]) {
    r.attempt([&] {
      h.unhealthyThreshold = static_cast<std::uint32_t>(
          r.integer(n["unhealthy_threshold"], "unhealthy_threshold", 1, 100));
    });
  }
  if (n["path"]) {
    r.attempt([&] {
      h.path = r.scalar(n["path"], "path");
      if (h.path.empty() || h.path.front() != '/') r.fail(n["path"], "path must start with '/'");
    });
  }
  if (n["type"]) {
    r.attempt([&] {
      const std::string t = r.scalar(n["type"], "type");
      if (t != "websocket" && t != "tcp") {
        r.fail(n["type"], "health_check type must be websocket or tcp, got '" + t + "'");
      }
      h.type = t == "tcp" ? HealthCheckType::kTcp : HealthCheckType::kWebSocket;
    });
  }
  return h;
}

OutlierConfig readOutlier(const Reader& r, const YAML::Node& n) {
  r.expectMap(n, "outlier");
  r.checkKeys(n, "outlier", {"consecutive_failures", "ejection"});
  OutlierConfig o;
  if (n["consecutive_failures"]) {
    o.consecutiveFailures = static_cast<std::uint32_t>(
        r.integer(n["consecutive_failures"], "consecutive_failures", 1, 1000));
  }
  if (n["ejection"]) {
    o.ejectionMs = r.duration(n["ejection"], "ejection");
    if (o.ejectionMs == 0) r.fail(n["ejection"], "ejection must be more than 0");
  }
  return o;
}

void readPool(const Reader& r, const YAML::Node& n, PoolConfig& pool, const Limits& global) {
  const std::string what = "pool '" + pool.name + "'";
  pool.limits = global;
  r.expectMap(n, what);
  const bool known = r.checkKeys(n, what,
                                 {"balance", "hash_key", "backends", "resolve_interval",
                                  "health_check", "outlier", "retries", "limits", "sticky"});
  if (n["sticky"]) {
    r.attempt([&] {
      const YAML::Node s = n["sticky"];
      r.expectMap(s, "sticky");
      const bool keys = r.checkKeys(s, "sticky", {"cookie"});
      r.require(s, "cookie", keys, "sticky needs a 'cookie' name (such as wsedge_affinity)");
      pool.stickyCookie = r.scalar(s["cookie"], "cookie");
      // RFC 6265: a cookie's name is a token.
      const bool token =
          !pool.stickyCookie.empty() &&
          std::all_of(pool.stickyCookie.begin(), pool.stickyCookie.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) ||
                   std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
          });
      if (!token) r.fail(s["cookie"], "a cookie name is letters, digits and !#$%&'*+-.^_`|~");
    });
  }
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
  if (n["hash_key"]) {
    r.attempt([&] {
      pool.hashKey = readHashKey(r, n["hash_key"]);
      if (pool.balance != BalancePolicy::kHash) {
        r.fail(n["hash_key"], "hash_key is for balance: hash");
      }
    });
  }
  if (n["resolve_interval"]) {
    r.attempt(
        [&] { pool.resolveIntervalMs = r.duration(n["resolve_interval"], "resolve_interval"); });
  }
  if (n["health_check"])
    r.attempt([&] { pool.healthCheck = readHealthCheck(r, n["health_check"]); });
  if (n["outlier"]) r.attempt([&] { pool.outlier = readOutlier(r, n["outlier"]); });
  if (n["retries"]) {
    r.attempt([&] {
      pool.retries = static_cast<std::uint32_t>(r.integer(n["retries"], "retries", 0, 100));
    });
  }
  if (n["limits"]) {
    r.attempt([&] {
      refuseConnectionLimits(r, n["limits"], "a pool's");
      readLimits(r, n["limits"], pool.limits);
    });
  }
  r.require(n, "backends", known, what + " has no 'backends' list");
  const YAML::Node backends = n["backends"];
  r.expectSequence(backends, "backends");
  if (backends.size() == 0) r.fail(backends, what + " has no backends");
  for (const YAML::Node& b : backends) {
    r.attempt([&] {
      BackendConfig backend = readBackend(r, b);
      for (const BackendConfig& o : pool.backends) {
        if (o.host == backend.host && o.port == backend.port) {
          r.fail(b, "backend " + backend.address + " is listed twice in " + what + " (first at " +
                        o.where.toString() + ")");
        }
      }
      pool.backends.push_back(std::move(backend));
    });
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
      CertificateConfig cert{relativeTo(r.file(), r.scalar(c["cert"], "cert")),
                             relativeTo(r.file(), r.scalar(c["key"], "key")), r.at(c)};
      // Unreadable files are reported with everything else; what they hold
      // is checked when the certificates are loaded.
      for (const auto& [path, what] : {std::pair{&cert.cert, "certificate"}, {&cert.key, "key"}}) {
        if (std::FILE* f = std::fopen(path->c_str(), "rb")) {
          std::fclose(f);
        } else {
          r.note(c, std::string("cannot read ") + what + " file '" + *path +
                        "': " + std::strerror(errno));
        }
      }
      tls.certificates.push_back(std::move(cert));
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

std::string absolutePath(const Reader& r, const YAML::Node& n, const char* what) {
  const std::string path = r.scalar(n, what);
  if (path.empty() || path.front() != '/') r.fail(n, std::string(what) + " must start with '/'");
  return path;
}

// One {name, value} or a list of them.
std::vector<HeaderMatch> readNameValues(const Reader& r, const YAML::Node& n, const char* what) {
  std::vector<HeaderMatch> out;
  const auto one = [&](const YAML::Node& m) {
    r.expectMap(m, what);
    const bool known = r.checkKeys(m, what, {"name", "value"});
    const std::string both = std::string(what) + " needs a 'name' and a 'value'";
    r.require(m, "name", known, both);
    r.require(m, "value", known, both);
    out.push_back({r.scalar(m["name"], "name"), r.scalar(m["value"], "value")});
  };
  if (n.IsSequence()) {
    for (const YAML::Node& m : n) r.attempt([&] { one(m); });
  } else {
    one(n);
  }
  return out;
}

RouteMatch readMatch(const Reader& r, const YAML::Node& m) {
  r.expectMap(m, "match");
  r.checkKeys(
      m, "match",
      {"path", "path_prefix", "path_regex", "host", "header", "query", "subprotocol", "upgrade"});
  RouteMatch match;
  if (m["path"]) r.attempt([&] { match.path = absolutePath(r, m["path"], "path"); });
  if (m["path_prefix"]) {
    r.attempt([&] { match.pathPrefix = absolutePath(r, m["path_prefix"], "path_prefix"); });
  }
  if (m["path_regex"]) {
    r.attempt([&] {
      match.pathRegex = r.scalar(m["path_regex"], "path_regex");
      const RE2 re(*match.pathRegex, RE2::Quiet);
      if (!re.ok()) r.fail(m["path_regex"], "path_regex does not compile: " + re.error());
    });
  }
  const int paths = (m["path"] ? 1 : 0) + (m["path_prefix"] ? 1 : 0) + (m["path_regex"] ? 1 : 0);
  if (paths > 1) r.note(m, "a match takes one of path, path_prefix and path_regex");
  if (m["host"]) {
    r.attempt([&] {
      std::string host = r.scalar(m["host"], "host");
      for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string_view name =
          host.rfind("*.", 0) == 0 ? std::string_view(host).substr(2) : host;
      if (name.empty() || name.find_first_of("*:/ ") != std::string_view::npos) {
        r.fail(m["host"], "host must be a name or *.suffix, got '" + host + "'");
      }
      match.host = host;
    });
  }
  if (m["header"]) r.attempt([&] { match.headers = readNameValues(r, m["header"], "header"); });
  if (m["query"]) r.attempt([&] { match.queries = readNameValues(r, m["query"], "query"); });
  if (m["subprotocol"]) {
    r.attempt([&] { match.subprotocol = r.scalar(m["subprotocol"], "subprotocol"); });
  }
  if (m["upgrade"]) r.attempt([&] { match.upgrade = r.boolean(m["upgrade"], "upgrade"); });
  return match;
}

// A header a route may set or remove: a field name that is not one the
// proxy writes itself (the handshake, framing, hop-by-hop and forwarding
// fields); empty if it may, else why not.
std::string headerEditProblem(const std::string& name) {
  if (!isFieldName(name)) return "'" + name + "' is not a header name";
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::string_view kOwn[] = {
      "host", "upgrade", "connection",      "content-length",    "transfer-encoding", "keep-alive",
      "te",   "trailer", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"};
  const bool own = std::find(std::begin(kOwn), std::end(kOwn), lower) != std::end(kOwn) ||
                   lower.rfind("sec-websocket-", 0) == 0 || lower.rfind("proxy-", 0) == 0;
  if (own) return name + " is written by wsedge itself and cannot be edited";
  return {};
}

void readHeaderEdits(const Reader& r, const YAML::Node& n, RouteConfig& route) {
  r.expectMap(n, "request_headers");
  r.checkKeys(n, "request_headers", {"add", "remove"});
  if (n["add"]) {
    r.attempt([&] {
      r.expectMap(n["add"], "add");
      for (auto it = n["add"].begin(); it != n["add"].end(); ++it) {
        r.attempt([&] {
          const std::string name = it->first.as<std::string>();
          if (const std::string why = headerEditProblem(name); !why.empty()) r.fail(it->first, why);
          const std::string value = r.scalar(it->second, name);
          // Visible characters, spaces and tabs only: a CR or LF would end the field.
          for (char c : value) {
            const auto u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7f) {
              r.fail(it->second, "the value of " + name + " holds a control character");
            }
          }
          route.addHeaders.emplace_back(name, value);
        });
      }
    });
  }
  if (n["remove"]) {
    r.attempt([&] {
      r.expectSequence(n["remove"], "remove");
      for (const YAML::Node& h : n["remove"]) {
        r.attempt([&] {
          const std::string name = r.scalar(h, "remove");
          if (const std::string why = headerEditProblem(name); !why.empty()) r.fail(h, why);
          route.removeHeaders.push_back(name);
        });
      }
    });
  }
}

PushConfig readPush(const Reader& r, const YAML::Node& n) {
  r.expectMap(n, "push");
  const bool known = r.checkKeys(
      n, "push", {"channels", "from_backend", "max_channels", "client_messages", "control_key"});
  PushConfig push;
  if (n["channels"] && n["from_backend"]) {
    r.fail(n["from_backend"],
           "push takes 'channels: path' (a push-only route) or 'from_backend' (a proxied "
           "route), not both");
  }
  if (n["from_backend"]) {
    const std::string what = r.scalar(n["from_backend"], "from_backend");
    if (what != "true" && what != "control") {
      r.fail(n["from_backend"], "from_backend must be true or control, got '" + what + "'");
    }
    push.grant =
        what == "control" ? PushConfig::Grant::kBackendControl : PushConfig::Grant::kBackend;
    if (n["client_messages"]) {
      r.fail(n["client_messages"],
             "client_messages is for push-only routes: here the client's messages go to the "
             "backend");
    }
  } else {
    r.require(n, "channels", known, "push needs 'channels: path' or 'from_backend: true'");
    const std::string channels = r.scalar(n["channels"], "channels");
    if (channels != "path") {
      r.fail(n["channels"],
             "channels must be 'path' (the path under the prefix, and ?channel=), got '" +
                 channels + "'");
    }
  }
  if (n["control_key"]) {
    push.controlKey = r.scalar(n["control_key"], "control_key");
    if (push.grant != PushConfig::Grant::kBackendControl) {
      r.fail(n["control_key"], "control_key needs from_backend: control");
    } else if (push.controlKey.empty()) {
      r.fail(n["control_key"], "control_key is empty: leave it out, or give a secret");
    }
  }
  if (n["max_channels"]) {
    push.maxChannels =
        static_cast<std::uint32_t>(r.integer(n["max_channels"], "max_channels", 1, 1024));
  }
  if (n["client_messages"]) {
    const std::string what = r.scalar(n["client_messages"], "client_messages");
    if (what != "ignore" && what != "close") {
      r.fail(n["client_messages"], "client_messages must be ignore or close, got '" + what + "'");
    }
    push.closeOnClientMessage = what == "close";
  }
  return push;
}

RouteConfig readRoute(const Reader& r, const YAML::Node& rn, const Config& config) {
  r.expectMap(rn, "a route");
  const bool known = r.checkKeys(rn, "route",
                                 {"name", "match", "pool", "allowed_origins", "rewrite_prefix",
                                  "request_headers", "limits", "push"});
  RouteConfig route;
  route.where = r.at(rn);
  if (rn["name"]) r.attempt([&] { route.name = r.scalar(rn["name"], "name"); });
  if (rn["match"]) r.attempt([&] { route.match = readMatch(r, rn["match"]); });
  if (rn["allowed_origins"]) {
    r.attempt([&] {
      const YAML::Node list = rn["allowed_origins"];
      r.expectSequence(list, "allowed_origins");
      if (list.size() == 0) {
        r.fail(list, "allowed_origins is empty: leave it out to allow every origin");
      }
      for (const YAML::Node& o : list) {
        r.attempt([&] {
          const std::string text = r.scalar(o, "an origin");
          if (!parseOrigin(text)) {
            r.fail(o, "allowed_origins: '" + text +
                          "' is not an origin (such as https://app.example.com or "
                          "https://*.example.com)");
          }
          route.allowedOrigins.push_back(text);
        });
      }
    });
  }
  if (rn["rewrite_prefix"]) {
    r.attempt([&] {
      route.rewritePrefix = absolutePath(r, rn["rewrite_prefix"], "rewrite_prefix");
      // Path characters only (RFC 3986 pchar and '/'): it goes into the request line.
      constexpr std::string_view kPath = "-._~!$&'()*+,;=:@/%";
      for (char c : *route.rewritePrefix) {
        if (!std::isalnum(static_cast<unsigned char>(c)) &&
            kPath.find(c) == std::string_view::npos) {
          r.fail(rn["rewrite_prefix"], "rewrite_prefix may hold only path characters");
        }
      }
      if (!route.match.pathPrefix) {
        r.fail(rn["rewrite_prefix"],
               "rewrite_prefix replaces a path_prefix, and this route has none");
      }
    });
  }
  if (rn["request_headers"]) r.attempt([&] { readHeaderEdits(r, rn["request_headers"], route); });
  if (rn["push"]) r.attempt([&] { route.push = readPush(r, rn["push"]); });
  // A push that did not parse is push-only unless it names from_backend.
  const bool pushOnly =
      rn["push"] &&
      (route.push ? route.push->pushOnly() : !(rn["push"].IsMap() && rn["push"]["from_backend"]));
  if (pushOnly) {
    // What only a backend would see, or only a tunnel would do.
    for (const char* key : {"pool", "rewrite_prefix", "request_headers"}) {
      if (!rn[key]) continue;
      r.attempt([&] {
        r.fail(rn[key],
               std::string("a push-only route (push: { channels: path }) takes no ") + key);
      });
    }
    route.limits = config.limits;
    if (rn["limits"]) {
      r.attempt([&] {
        refuseConnectionLimits(r, rn["limits"], "a route's");
        readLimits(r, rn["limits"], route.limits);
      });
    }
    return route;
  }
  r.require(rn, "pool", known, "route needs a 'pool' (or push: { channels: path })");
  route.pool = r.scalar(rn["pool"], "pool");
  const auto pool = config.pools.find(route.pool);
  if (pool == config.pools.end()) {
    std::string pools;
    for (const auto& [name, p] : config.pools) pools += (pools.empty() ? "" : ", ") + name;
    r.fail(rn["pool"], "route refers to pool '" + route.pool + "', which is not defined" +
                           (pools.empty() ? "" : " (pools: " + pools + ")"));
  }
  route.limits = pool->second.limits;
  if (rn["limits"]) {
    r.attempt([&] {
      if (rn["limits"].IsMap() && rn["limits"]["drain_window"]) {
        r.fail(rn["limits"]["drain_window"],
               "drain_window belongs in the global limits or a pool's, not a route's");
      }
      refuseConnectionLimits(r, rn["limits"], "a route's");
      readLimits(r, rn["limits"], route.limits);
    });
  }
  return route;
}

ListenerConfig readListener(const Reader& r, const YAML::Node& n, const Config& config) {
  r.expectMap(n, "a listener");
  const bool known = r.checkKeys(n, "listener", {"address", "tls", "routes", "max_connections"});
  ListenerConfig l;
  r.require(n, "address", known, "listener needs an 'address' (such as 0.0.0.0:8080)");
  l.address = r.scalar(n["address"], "address");
  const HostPort hp = r.hostPort(n["address"], "listener address");
  l.host = hp.host, l.port = hp.port;
  l.where = r.at(n["address"]);
  if (n["max_connections"]) {
    r.attempt([&] {
      l.maxConnections = static_cast<std::uint32_t>(
          r.integer(n["max_connections"], "max_connections", 1, 100'000'000));
    });
  }
  if (n["tls"]) r.attempt([&] { l.tls = readTls(r, n["tls"]); });
  r.require(n, "routes", known, "listener " + l.address + " has no 'routes'");
  const YAML::Node routes = n["routes"];
  r.expectSequence(routes, "routes");
  if (routes.size() == 0) r.fail(routes, "listener " + l.address + " needs at least one route");
  for (const YAML::Node& rn : routes) {
    r.attempt([&] { l.routes.push_back(readRoute(r, rn, config)); });
  }
  for (std::size_t i = 0; i < l.routes.size(); ++i) {
    if (l.routes[i].name.empty()) l.routes[i].name = l.address + "#" + std::to_string(i);
  }
  return l;
}

AdminConfig readAdmin(const Reader& r, const YAML::Node& n) {
  r.expectMap(n, "admin");
  const bool known = r.checkKeys(n, "admin", {"address", "token"});
  (void)known;
  AdminConfig admin;
  // Loopback unless written otherwise: the admin API can reload and drain.
  admin.address = "127.0.0.1:9901", admin.host = "127.0.0.1", admin.port = 9901;
  admin.where = r.at(n);
  if (n["address"]) {
    admin.address = r.scalar(n["address"], "address");
    const HostPort hp = r.hostPort(n["address"], "admin address");
    admin.host = hp.host, admin.port = hp.port;
    admin.where = r.at(n["address"]);
  }
  if (n["token"]) {
    admin.token = r.scalar(n["token"], "token");
    if (admin.token.empty()) r.fail(n["token"], "token is empty: leave it out for no token");
    for (char c : admin.token) {
      if (c <= ' ' || c == 0x7f)
        r.fail(n["token"], "token may not hold spaces or control characters");
    }
  }
  return admin;
}

AccessLogConfig readAccessLog(const Reader& r, const YAML::Node& n) {
  r.expectMap(n, "access_log");
  const bool known = r.checkKeys(n, "access_log", {"path", "buffer"});
  r.require(n, "path", known, "access_log needs a 'path' (a file, or stdout)");
  AccessLogConfig log;
  log.path = r.scalar(n["path"], "path");
  if (log.path.empty()) r.fail(n["path"], "access_log path is empty");
  if (n["buffer"]) {
    log.bufferBytes = r.size(n["buffer"], "buffer");
    if (log.bufferBytes < 4096 || log.bufferBytes > (std::uint64_t{1} << 30)) {
      r.fail(n["buffer"], "access_log buffer must be from 4KiB to 1GiB");
    }
  }
  return log;
}

RedisConfig readRedis(const Reader& r, const YAML::Node& n) {
  r.expectMap(n, "redis");
  const bool known = r.checkKeys(n, "redis", {"address", "prefix", "password"});
  r.require(n, "address", known, "redis needs an 'address' (such as 127.0.0.1:6379)");
  RedisConfig redis;
  redis.where = r.at(n["address"]);
  redis.address = r.scalar(n["address"], "address");
  const HostPort hp = r.hostPort(n["address"], "redis address");
  redis.host = hp.host;
  redis.port = hp.port;
  if (n["prefix"]) {
    redis.prefix = r.scalar(n["prefix"], "prefix");
    for (const char c : redis.prefix) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        r.fail(n["prefix"], "prefix may not hold control characters");
      }
    }
  }
  if (n["password"]) redis.password = r.scalar(n["password"], "password");
  return redis;
}

void readTop(const Reader& r, const YAML::Node& root, Config& config) {
  const bool known = r.checkKeys(root, "the configuration",
                                 {"workers", "worker_connections", "listeners", "pools", "limits",
                                  "trusted_proxies", "admin", "access_log", "pubsub"});
  if (root["pubsub"]) {
    r.attempt([&] {
      const YAML::Node p = root["pubsub"];
      r.expectMap(p, "pubsub");
      r.checkKeys(p, "pubsub", {"queue", "redis"});
      if (p["queue"]) {
        config.pubsubQueue = r.size(p["queue"], "queue");
        if (config.pubsubQueue < 1024) r.fail(p["queue"], "queue must be at least 1KiB");
      }
      if (p["redis"]) r.attempt([&] { config.redis = readRedis(r, p["redis"]); });
    });
  }
  if (root["admin"]) r.attempt([&] { config.admin = readAdmin(r, root["admin"]); });
  if (root["access_log"])
    r.attempt([&] { config.accessLog = readAccessLog(r, root["access_log"]); });
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
  if (!config.limits.frameSizeSet) config.limits.maxFrameSize = config.limits.maxMessageSize;

  // Push-only routes need no pool: a file of nothing else needs no pools.
  bool needsPools = !root["listeners"] || !root["listeners"].IsSequence();
  for (const YAML::Node& ln : root["listeners"] ? root["listeners"] : YAML::Node()) {
    if (!ln.IsMap() || !ln["routes"] || !ln["routes"].IsSequence()) continue;
    for (const YAML::Node& rn : ln["routes"]) {
      needsPools = needsPools || !rn.IsMap() || !rn["push"] ||
                   (rn["push"].IsMap() && rn["push"]["from_backend"]);
    }
  }
  if (!root["pools"]) {
    // Missing because misspelt: that was said; the routes cannot be checked.
    if (!known) return;
    if (needsPools) r.record(1, 1, "no 'pools' defined");
  } else {
    r.attempt([&] {
      const YAML::Node pools = root["pools"];
      r.expectMap(pools, "pools");
      for (auto it = pools.begin(); it != pools.end(); ++it) {
        r.attempt([&] {
          const std::string name = it->first.as<std::string>();
          if (config.pools.count(name)) {
            r.fail(it->first, "pool '" + name + "' is defined twice (first at " +
                                  config.pools[name].where.toString() + ")");
          }
          // Known even if its body has errors, so routes naming it do not
          // report a second, misleading error.
          PoolConfig& pool = config.pools[name];
          pool.name = name;
          pool.where = r.at(it->first);
          readPool(r, it->second, pool, config.limits);
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
  if (config.admin) seen.insert(config.admin->host + ":" + std::to_string(config.admin->port));
  for (const YAML::Node& ln : listeners) {
    r.attempt([&] {
      ListenerConfig l = readListener(r, ln, config);
      if (!seen.insert(l.host + ":" + std::to_string(l.port)).second) {
        r.fail(ln["address"],
               "listener address " + l.address + " is used twice" +
                   (config.admin && config.admin->port == l.port && config.admin->host == l.host
                        ? " (the admin API listens there)"
                        : ""));
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
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the file: " + std::strerror(errno));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw ConfigError(path + ": cannot read the file: " + std::strerror(errno));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw syntaxError(path, e);
  }
  Config config = parseConfig(root, path);
  config.text = text;
  return config;
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
