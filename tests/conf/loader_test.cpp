#include "conf/loader.h"

#include <gtest/gtest.h>

#include "conf/units.h"

namespace wsedge::conf {
namespace {

const char* kValid = R"(
workers: 2
listeners:
  - address: 127.0.0.1:8080
    routes:
      - match: { path_prefix: /chat }
        pool: chat
      - pool: default
pools:
  chat:
    balance: round_robin
    backends:
      - { address: 127.0.0.1:9001 }
      - { address: "localhost:9002", weight: 2 }
  default:
    backends: [ 127.0.0.1:9000 ]
limits:
  max_message_size: 1MiB
  idle_timeout: 90s
  validate_utf8: false
)";

std::string errorFor(const std::string& yaml) {
  try {
    loadConfigFromString(yaml, "t.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(ConfigLoader, LoadsAValidFile) {
  const Config c = loadConfigFromString(kValid, "t.yaml");
  EXPECT_EQ(c.workers, 2u);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].host, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 8080);
  ASSERT_EQ(c.listeners[0].routes.size(), 2u);
  EXPECT_EQ(c.listeners[0].routes[0].match.pathPrefix, "/chat");
  EXPECT_FALSE(c.listeners[0].routes[1].match.pathPrefix) << "no match: every request";
  EXPECT_EQ(c.pools.at("chat").backends[1].weight, 2u);
  EXPECT_EQ(c.pools.at("chat").backends[1].host, "localhost");
  EXPECT_EQ(c.pools.at("default").backends[0].port, 9000);
  EXPECT_EQ(c.limits.maxMessageSize, 1u << 20);
  EXPECT_EQ(c.limits.maxFrameSize, 1u << 20) << "a frame is never larger than a message";
  EXPECT_EQ(c.limits.idleTimeoutMs, 90000u);
  EXPECT_FALSE(c.limits.validateUtf8);
  EXPECT_EQ(c.limits.handshakeTimeoutMs, 10000u) << "defaults stay";
}

TEST(ConfigLoader, TyposAreRefusedWithTheirPlaceAndASuggestion) {
  EXPECT_EQ(errorFor(replace(kValid, "pool: default", "pol: default")),
            "t.yaml:8:9: unknown key 'pol' in route (did you mean 'pool'?)");
  EXPECT_EQ(errorFor(replace(kValid, "idle_timeout", "idle_timout")),
            "t.yaml:19:3: unknown key 'idle_timout' in limits (did you mean 'idle_timeout'?)");
  EXPECT_EQ(errorFor(replace(kValid, "workers: 2", "wrokers: 2")),
            "t.yaml:2:1: unknown key 'wrokers' in the configuration (did you mean 'workers'?)");
  EXPECT_NE(
      errorFor(replace(kValid, "workers: 2", "colour: blue")).find("expected one of: workers"),
      std::string::npos);
}

TEST(ConfigLoader, BadValuesNameTheirPlace) {
  EXPECT_EQ(
      errorFor(replace(kValid, "1MiB", "1 potato")),
      "t.yaml:18:21: max_message_size: '1 potato' is not a size (such as 16MiB, 64KiB, 4096)");
  EXPECT_EQ(errorFor(replace(kValid, "90s", "90")),
            "t.yaml:19:17: idle_timeout: '90' is not a duration (such as 10s, 500ms, 5m)");
  EXPECT_EQ(errorFor(replace(kValid, "127.0.0.1:9001", "127.0.0.1")),
            "t.yaml:13:20: backend address must be HOST:PORT (or [IPv6]:PORT), got '127.0.0.1'");
  EXPECT_EQ(
      errorFor(replace(kValid, "pool: chat", "pool: chta")),
      "t.yaml:7:15: route refers to pool 'chta', which is not defined (pools: chat, default)");
  EXPECT_EQ(errorFor(replace(kValid, "workers: 2", "workers: 0")),
            "t.yaml:2:10: workers (or auto) must be a whole number from 1 to 1024, got '0'");
  EXPECT_EQ(errorFor(replace(kValid, "round_robin", "fastest")),
            "t.yaml:11:14: unknown balance policy 'fastest'; supported: round_robin, least_conn, "
            "random_two, hash");
  EXPECT_EQ(errorFor(replace(kValid, "path_prefix: /chat", "path_prefix: chat")),
            "t.yaml:6:31: path_prefix must start with '/'");
  EXPECT_EQ(errorFor(replace(kValid, "validate_utf8: false", "validate_utf8: maybe")),
            "t.yaml:20:18: validate_utf8 must be true or false, got 'maybe'");
}

TEST(ConfigLoader, StructureErrors) {
  EXPECT_EQ(errorFor("listeners: []\npools: {}\n"), "t.yaml:1:12: at least one listener is needed");
  EXPECT_EQ(errorFor("pools: {}\n"), "t.yaml:1:1: no 'listeners' defined");
  EXPECT_EQ(errorFor("- a\n- b\n"), "t.yaml:1:1: the configuration must be a mapping");
  EXPECT_EQ(errorFor("a: [\n"), "t.yaml:2:1: end of sequence flow not found");
  const std::string twice = replace(
      kValid, "pools:", "  - address: 127.0.0.1:8080\n    routes: [ { pool: chat } ]\npools:");
  EXPECT_EQ(errorFor(twice), "t.yaml:9:14: listener address 127.0.0.1:8080 is used twice");
}

TEST(ConfigLoader, EveryErrorInAFileIsReportedInFileOrder) {
  std::string yaml = replace(kValid, "workers: 2", "workers: 0");
  yaml = replace(yaml, "pool: chat", "pool: chta");
  yaml = replace(yaml, "127.0.0.1:9001", "127.0.0.1");
  yaml = replace(yaml, "idle_timeout", "idle_timout");
  yaml = replace(yaml, "1MiB", "1 potato");
  try {
    loadConfigFromString(yaml, "t.yaml");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    const std::vector<std::string> expected{
        "t.yaml:2:10: workers (or auto) must be a whole number from 1 to 1024, got '0'",
        "t.yaml:7:15: route refers to pool 'chta', which is not defined (pools: chat, default)",
        "t.yaml:13:20: backend address must be HOST:PORT (or [IPv6]:PORT), got '127.0.0.1'",
        "t.yaml:18:21: max_message_size: '1 potato' is not a size (such as 16MiB, 64KiB, 4096)",
        "t.yaml:19:3: unknown key 'idle_timout' in limits (did you mean 'idle_timeout'?)",
    };
    EXPECT_EQ(e.errors(), expected);
    std::string joined;
    for (const std::string& line : expected) joined += (joined.empty() ? "" : "\n") + line;
    EXPECT_EQ(e.what(), joined);
  }
}

TEST(ConfigLoader, ZeroTurnsTimeoutsOffWhereThatMakesSenseAndIsRefusedElsewhere) {
  Config c = loadConfigFromString(
      replace(kValid, "idle_timeout: 90s", "idle_timeout: 0s\n  send_timeout: 0ms"), "t.yaml");
  EXPECT_EQ(c.limits.idleTimeoutMs, 0u);
  EXPECT_EQ(c.limits.sendTimeoutMs, 0u);
  EXPECT_EQ(errorFor(replace(kValid, "idle_timeout: 90s", "connect_timeout: 0s")),
            "t.yaml:19:20: connect_timeout must be more than 0: a backend that never answers "
            "would hold the client");
  EXPECT_EQ(errorFor(replace(kValid, "idle_timeout: 90s", "handshake_timeout: 0ms")),
            "t.yaml:19:22: handshake_timeout must be more than 0: a client could hold a "
            "connection without ever asking");
  EXPECT_EQ(errorFor(replace(kValid, "idle_timeout: 90s", "idle_timeout: 31d")),
            "t.yaml:19:17: idle_timeout: '31d' is not a duration (such as 10s, 500ms, 5m)");
  EXPECT_EQ(errorFor(replace(kValid, "idle_timeout: 90s", "idle_timeout: 745h")),
            "t.yaml:19:17: idle_timeout: '745h' is more than 30 days");
  EXPECT_EQ(
      loadConfigFromString(replace(kValid, "idle_timeout: 90s", "idle_timeout: 720h"), "t.yaml")
          .limits.idleTimeoutMs,
      720u * 3600 * 1000);
}

TEST(ConfigLoader, HeaderEditsAndRewritesCannotBreakTheRequest) {
  const auto route = [](const std::string& extra) {
    return errorFor(
        "listeners:\n  - address: 127.0.0.1:1\n    routes:\n      - match: { path_prefix: /a }\n"
        "        pool: p\n" +
        extra + "pools: { p: { backends: [ 127.0.0.1:2, 127.0.0.1:3 ] } }\n");
  };
  EXPECT_EQ(route("        request_headers: { add: { X-Edge: \"a\\r\\nX-Injected: 1\" } }\n"),
            "t.yaml:6:43: the value of X-Edge holds a control character");
  EXPECT_EQ(route("        request_headers: { add: { Sec-WebSocket-Key: x } }\n"),
            "t.yaml:6:35: Sec-WebSocket-Key is written by wsedge itself and cannot be edited");
  EXPECT_EQ(route("        request_headers: { remove: [ Host, \"bad name\" ] }\n"),
            "t.yaml:6:38: Host is written by wsedge itself and cannot be edited\n"
            "t.yaml:6:44: 'bad name' is not a header name");
  EXPECT_EQ(route("        request_headers: { add: { X-Forwarded-For: 1.2.3.4 } }\n"),
            "t.yaml:6:35: X-Forwarded-For is written by wsedge itself and cannot be edited");
  EXPECT_EQ(route("        rewrite_prefix: \"/v2 HTTP/1.1\"\n"),
            "t.yaml:6:25: rewrite_prefix may hold only path characters");
  EXPECT_EQ(route("        request_headers: { add: { X-Edge: wsedge }, remove: [ Cookie ] }\n"),
            "no error");
  EXPECT_EQ(errorFor("listeners: [ { address: 127.0.0.1:1, routes: [ { pool: p } ] } ]\n"
                     "pools: { p: { backends: [ 127.0.0.1:2, \"127.0.0.1:2\" ] } }\n"),
            "t.yaml:2:40: backend 127.0.0.1:2 is listed twice in pool 'p' (first at t.yaml:2:27)");
}

TEST(ConfigLoader, TrustedProxiesAreAddressRanges) {
  const Config c = loadConfigFromString(
      replace(kValid, "workers: 2",
              "workers: 2\ntrusted_proxies: [ 10.0.0.0/8, \"::1\", 192.168.1.7 ]"),
      "t.yaml");
  ASSERT_EQ(c.trustedProxies.size(), 3u);
  const std::uint8_t inside[4] = {10, 200, 3, 4}, outside[4] = {11, 0, 0, 1};
  EXPECT_TRUE(c.trustedProxies[0].contains(inside, false));
  EXPECT_FALSE(c.trustedProxies[0].contains(outside, false));
  std::uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  EXPECT_TRUE(c.trustedProxies[0].contains(mapped, true)) << "IPv4-mapped IPv6";
  std::uint8_t loop6[16] = {};
  loop6[15] = 1;
  EXPECT_TRUE(c.trustedProxies[1].contains(loop6, true));
  EXPECT_EQ(errorFor(replace(kValid, "workers: 2", "workers: 2\ntrusted_proxies: [ 10.0.0.0/33 ]")),
            "t.yaml:3:20: trusted_proxies: '10.0.0.0/33' is not an address or a range (such as "
            "10.0.0.0/8 or ::1)");
}

// Every example in conf/examples is checked through the real binary, with
// the certificates it names made for it: tests/integration/test_config.py.

TEST(ConfigLoader, OperationsKeys) {
  const Config c = loadConfigFromString(std::string(kValid) + R"(
admin: { address: 127.0.0.1:9911, token: abc }
access_log: { path: stdout, buffer: 64KiB }
)",
                                        "t.yaml");
  ASSERT_TRUE(c.admin);
  EXPECT_EQ(c.admin->address, "127.0.0.1:9911");
  EXPECT_EQ(c.admin->port, 9911);
  EXPECT_EQ(c.admin->token, "abc");
  ASSERT_TRUE(c.accessLog);
  EXPECT_EQ(c.accessLog->path, "stdout");
  EXPECT_EQ(c.accessLog->bufferBytes, 64u * 1024);
  EXPECT_EQ(c.limits.drainWindowMs, 10'000u);  // the default
  // Routes without a name are named by their listener and place.
  EXPECT_EQ(c.listeners[0].routes[0].name, "127.0.0.1:8080#0");
  EXPECT_EQ(c.listeners[0].routes[1].name, "127.0.0.1:8080#1");

  // The admin API is on loopback unless told otherwise.
  const Config d = loadConfigFromString(std::string(kValid) + "admin: {}\n", "t.yaml");
  EXPECT_EQ(d.admin->address, "127.0.0.1:9901");

  EXPECT_EQ(errorFor(std::string(kValid) + "admin: { adress: 127.0.0.1:1 }\n"),
            "t.yaml:21:10: unknown key 'adress' in admin (did you mean 'address'?)");
  EXPECT_EQ(errorFor(std::string(kValid) + "admin: { token: 'a b' }\n"),
            "t.yaml:21:17: token may not hold spaces or control characters");
  EXPECT_EQ(errorFor(std::string(kValid) + "access_log: { path: x, buffer: 1KiB }\n"),
            "t.yaml:21:32: access_log buffer must be from 4KiB to 1GiB");
  EXPECT_EQ(errorFor(std::string(kValid) + "admin: { address: '127.0.0.1:8080' }\n"),
            "t.yaml:4:14: listener address 127.0.0.1:8080 is used twice (the admin API listens "
            "there)");
  EXPECT_EQ(errorFor(R"(
listeners:
  - address: 127.0.0.1:8080
    routes: [ { pool: p, limits: { drain_window: 1s } } ]
pools: { p: { backends: [ 127.0.0.1:9000 ] } }
)"),
            "t.yaml:4:50: drain_window belongs in the global limits or a pool's, not a route's");
  EXPECT_EQ(errorFor(std::string(kValid) + "access_log: { buffer: 1MiB }\n"),
            "t.yaml:21:13: access_log needs a 'path' (a file, or stdout)");
}

TEST(ConfigLoader, StickyCookieNames) {
  const std::string pool = R"(
listeners: [ { address: 127.0.0.1:8080, routes: [ { pool: p } ] } ]
pools:
  p:
    backends: [ 127.0.0.1:9000 ]
)";
  EXPECT_EQ(loadConfigFromString(pool + "    sticky: { cookie: wsedge_affinity }\n", "t.yaml")
                .pools.at("p")
                .stickyCookie,
            "wsedge_affinity");
  EXPECT_EQ(errorFor(pool + "    sticky: { cookie: 'a b' }\n"),
            "t.yaml:6:23: a cookie name is letters, digits and !#$%&'*+-.^_`|~");
  EXPECT_EQ(errorFor(pool + "    sticky: { cokie: x }\n"),
            "t.yaml:6:15: unknown key 'cokie' in sticky (did you mean 'cookie'?)");
}

TEST(ConfigLoader, PlainHttpKeys) {
  const conf::Config c = loadConfigFromString(R"(
limits:
  keepalive_timeout: 5s
  max_requests_per_connection: 10
  max_request_body: 1MiB
  response_timeout: 25s
  upstream_keepalive: { max_idle: 4, idle_timeout: 2s }
listeners:
  - address: 127.0.0.1:8080
    routes: [ { match: { upgrade: false }, pool: p } ]
pools: { p: { backends: [ 127.0.0.1:9000 ] } }
)",
                                              "t.yaml");
  const conf::Limits& l = c.listeners.at(0).routes.at(0).limits;
  EXPECT_EQ(l.keepaliveTimeoutMs, 5000u);
  EXPECT_EQ(l.maxRequestsPerConnection, 10u);
  EXPECT_EQ(l.maxRequestBody, 1u << 20);
  EXPECT_EQ(l.responseTimeoutMs, 25000u);
  EXPECT_EQ(l.upstreamMaxIdle, 4u);
  EXPECT_EQ(l.upstreamIdleTimeoutMs, 2000u);
  EXPECT_EQ(c.listeners.at(0).routes.at(0).match.upgrade, false);
  const std::string pool = R"(
listeners: [ { address: 127.0.0.1:8080, routes: [ { pool: p } ] } ]
pools: { p: { backends: [ 127.0.0.1:9000 ] } }
)";
  EXPECT_EQ(errorFor(pool + "limits: { upstream_keepalive: { max_idel: 3 } }\n"),
            "t.yaml:4:33: unknown key 'max_idel' in upstream_keepalive (did you mean 'max_idle'?)");
  const std::string perRoute = errorFor(R"(
listeners: [ { address: 127.0.0.1:8080, routes: [ { pool: p, limits: { keepalive_timeout: 5s } } ] } ]
pools: { p: { backends: [ 127.0.0.1:9000 ] } }
)");
  EXPECT_NE(perRoute.find("keepalive_timeout belongs in the global limits"), std::string::npos)
      << perRoute;
  EXPECT_EQ(errorFor(pool + "limits: { response_timeout: 0s }\n"),
            "t.yaml:4:29: response_timeout must be more than 0: a backend that never answers would "
            "hold the request");
}

TEST(ConfigLoader, PushOnlyRoutesNeedNoPool) {
  const conf::Config c = loadConfigFromString(R"(
pubsub: { queue: 256KiB }
listeners:
  - address: 127.0.0.1:8080
    routes: [ { match: { path_prefix: /live }, push: { channels: path, max_channels: 3, client_messages: close } } ]
)",
                                              "t.yaml");
  const conf::RouteConfig& r = c.listeners.at(0).routes.at(0);
  ASSERT_TRUE(r.push.has_value());
  EXPECT_EQ(r.push->maxChannels, 3u);
  EXPECT_TRUE(r.push->closeOnClientMessage);
  EXPECT_EQ(c.pubsubQueue, 256u << 10);
  const std::string head = "listeners: [ { address: 127.0.0.1:8080, routes: [ { ";
  EXPECT_NE(errorFor(head + "push: { channels: query } } ] } ]\n").find("channels must be 'path'"),
            std::string::npos);
  EXPECT_NE(errorFor(head + "push: { channels: path, client_mesages: close } } ] } ]\n")
                .find("did you mean 'client_messages'"),
            std::string::npos);
  EXPECT_NE(errorFor(head + "pool: p, push: { channels: path } } ] } ]\n"
                            "pools: { p: { backends: [ 127.0.0.1:9000 ] } }\n")
                .find("a push-only route (push: { channels: path }) takes no pool"),
            std::string::npos);
  EXPECT_NE(errorFor(head + "match: { path_prefix: /live }, rewrite_prefix: /x, "
                            "push: { channels: path } } ] } ]\n")
                .find("takes no rewrite_prefix"),
            std::string::npos);
  // A route that is not push-only still needs its pool.
  EXPECT_NE(errorFor(head + "match: { path: /x } } ] } ]\n").find("no 'pools' defined"),
            std::string::npos);
}

TEST(ConfigLoader, MissingFileIsOneLine) {
  try {
    loadConfig("/nonexistent/wsedge.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "/nonexistent/wsedge.yaml: cannot read the file: No such file or directory");
  }
}

TEST(Units, Sizes) {
  EXPECT_EQ(parseSize("4096"), 4096u);
  EXPECT_EQ(parseSize("16MiB"), 16u << 20);
  EXPECT_EQ(parseSize("64 KiB"), 65536u);
  EXPECT_EQ(parseSize("1mb"), 1000000u);
  EXPECT_EQ(parseSize("2GiB"), std::uint64_t{2} << 30);
  EXPECT_FALSE(parseSize("MiB"));
  EXPECT_FALSE(parseSize("1 parsec"));
  EXPECT_FALSE(parseSize("99999999999999999999GiB"));
  EXPECT_FALSE(parseSize("-1"));
}

TEST(Units, Durations) {
  EXPECT_EQ(parseDurationMs("500ms"), 500u);
  EXPECT_EQ(parseDurationMs("10s"), 10000u);
  EXPECT_EQ(parseDurationMs("5m"), 300000u);
  EXPECT_EQ(parseDurationMs("1h"), 3600000u);
  EXPECT_FALSE(parseDurationMs("10"));
  EXPECT_FALSE(parseDurationMs("10 fortnights"));
}

TEST(Units, HostPort) {
  auto a = parseHostPort("127.0.0.1:80");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 80);
  auto b = parseHostPort("[::1]:443");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(parseHostPort("example.com:9000")->host, "example.com");
  for (const char* bad :
       {"127.0.0.1", ":80", "host:0", "host:65536", "::1:80", "[::1]80", "h:8o"}) {
    EXPECT_FALSE(parseHostPort(bad)) << bad;
  }
}

}  // namespace
}  // namespace wsedge::conf
