#include "proxy/snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "conf/loader.h"
#include "tests/support/test_certs.h"

namespace wsedge::proxy {
namespace {

std::string config(const std::string& backends, const std::string& rotation = "1h") {
  const testing::TestCerts& certs = testing::TestCerts::get();
  return "listeners:\n"
         "  - address: 127.0.0.1:18443\n"
         "    tls:\n"
         "      certificates: [ { cert: " +
         certs.path("leaf.pem") + ", key: " + certs.path("leaf.key") +
         " } ]\n"
         "      ticket_key_rotation: " +
         rotation +
         "\n"
         "    routes: [ { pool: p } ]\n"
         "pools:\n"
         "  p:\n"
         "    backends: [ " +
         backends + " ]\n";
}

std::shared_ptr<const Snapshot> build(const std::string& yaml, const Snapshot* previous = nullptr) {
  return buildSnapshot(conf::loadConfigFromString(yaml, "t.yaml"), previous);
}

TEST(Snapshot, ARebuildCarriesOverWhatHasIdentity) {
  auto a = build(config("127.0.0.1:9001, 127.0.0.1:9002"));
  EXPECT_EQ(a->generation, 1u);
  const PoolSnapshot& pa = a->pools.at(0);
  pa.state.backend(0).liveSessions = 7;
  pa.state.backend(0).healthy = false;
  pa.state.backend(1).liveSessions = 3;

  // 9002 goes, 9003 comes, 9001 stays (now listed second).
  auto b = build(config("127.0.0.1:9003, 127.0.0.1:9001"), a.get());
  EXPECT_EQ(b->generation, 2u);
  const PoolSnapshot& pb = b->pools.at(0);
  ASSERT_EQ(pb.backends.size(), 2u);
  EXPECT_EQ(pb.backends[1].name, "127.0.0.1:9001");
  EXPECT_EQ(pb.state.shared(1), pa.state.shared(0)) << "the same state object, not a copy";
  EXPECT_EQ(pb.state.backend(1).liveSessions, 7u);
  EXPECT_FALSE(pb.state.backend(1).healthy);
  EXPECT_EQ(pb.state.backend(0).liveSessions, 0u) << "a new backend starts afresh";
  EXPECT_TRUE(pb.state.backend(0).healthy);

  // Ticket keys stay with a listener whose address and rotation stay.
  EXPECT_EQ(b->listeners[0].tlsOptions.ticketKeys, a->listeners[0].tlsOptions.ticketKeys);
  auto c = build(config("127.0.0.1:9001", "2h"), b.get());
  EXPECT_NE(c->listeners[0].tlsOptions.ticketKeys, b->listeners[0].tlsOptions.ticketKeys);
  EXPECT_EQ(c->generation, 3u);

  // The old snapshot is untouched: a session pinned to it sees what it saw.
  EXPECT_EQ(a->pools.at(0).backends.size(), 2u);
  EXPECT_EQ(a->pools.at(0).backends[1].name, "127.0.0.1:9002");
}

TEST(Snapshot, ARefreshLooksUpOnlyItsPoolsAndTakesListenersAndCertificatesOverAsTheyAre) {
  // The certificate is read once: a refresh after it went (mid-renewal, say)
  // still succeeds, with the same certificates.
  const testing::TestCerts& certs = testing::TestCerts::get();
  const std::string cert = certs.path("refresh.pem"), key = certs.path("refresh.key");
  std::filesystem::copy_file(certs.path("leaf.pem"), cert);
  std::filesystem::copy_file(certs.path("leaf.key"), key);
  const std::string yaml =
      "listeners:\n  - address: 127.0.0.1:18444\n    tls: { certificates: [ { cert: " + cert +
      ", key: " + key +
      " } ] }\n    routes: [ { pool: p } ]\n"
      "pools:\n  p: { backends: [ 127.0.0.1:9001 ] }\n";
  auto a = build(yaml);
  std::filesystem::remove(cert);
  std::filesystem::remove(key);
  Refresh refresh;
  refresh.pools.insert("p");
  auto b = buildSnapshot(a->config, a.get(), nullptr, &refresh);
  EXPECT_EQ(b->listeners.at(0).certificates, a->listeners.at(0).certificates);
  EXPECT_EQ(b->listeners.at(0).address.toString(), a->listeners.at(0).address.toString());
  EXPECT_EQ(b->pools.at(0).state.shared(0), a->pools.at(0).state.shared(0));
  EXPECT_THROW(build(yaml, a.get()), conf::ConfigError) << "a new configuration reads the files";
}

TEST(Snapshot, AnAddressListedTwiceInAPoolIsOneBackend) {
  std::vector<std::string> warnings;
  auto s = buildSnapshot(conf::loadConfigFromString(
                             "listeners: [ { address: 127.0.0.1:1, routes: [ { pool: p } ] } ]\n"
                             "pools: { p: { backends: [ 127.0.0.1:2, localhost:2 ] } }\n",
                             "t.yaml"),
                         nullptr, &warnings);
  // localhost may be ::1 only; then there is nothing to merge.
  const std::size_t n = s->pools.at(0).backends.size();
  if (n == 1) {
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("is already in pool p; it counts once"), std::string::npos);
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = i + 1; k < n; ++k) {
      EXPECT_NE(s->pools[0].backends[i].address.toString(),
                s->pools[0].backends[k].address.toString());
    }
  }
}

TEST(Snapshot, RoutesCarryTheirEffectiveLimits) {
  auto s = buildSnapshot(conf::loadConfigFromString(
      "listeners: [ { address: 127.0.0.1:1, routes: [ { pool: p } ] } ]\n"
      "pools: { p: { backends: [ 127.0.0.1:2 ] } }\n"
      "limits: { max_message_size: 1MiB, idle_timeout: 9s }\n",
      "t.yaml"));
  const RouteSnapshot& r = s->listeners.at(0).routes.at(0);
  EXPECT_EQ(r.limits.maxMessageSize, 1u << 20);
  EXPECT_EQ(r.limits.maxFrameSize, 1u << 20);
  EXPECT_EQ(r.limits.idleTimeoutMs, 9000u);
}

}  // namespace
}  // namespace wsedge::proxy
