#include "tls/stream.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/support/test_certs.h"
#include "tls/server_context.h"

namespace wsedge::tls {
namespace {

using testing::TestCerts;
using Bytes = std::vector<std::byte>;

// Collects what a stream writes (records) or reads (plaintext).
struct Pipe {
  Bytes bytes;
  TlsStream::Writer writer() {
    return {this, [](void* p, std::size_t n) {
              auto* self = static_cast<Pipe*>(p);
              self->bytes.resize(self->bytes.size() + n);
              return self->bytes.data() + self->bytes.size() - n;
            }};
  }
  TlsStream::Reader reader() {
    return {this, [](void* p, std::span<std::byte> d) {
              auto* self = static_cast<Pipe*>(p);
              self->bytes.insert(self->bytes.end(), d.begin(), d.end());
            }};
  }
};

struct Pair {
  std::unique_ptr<TlsStream> client, server;
  Pipe toServer, toClient, clientPlain, serverPlain;
  TlsStream::Status clientStatus = TlsStream::Status::kOk, serverStatus = TlsStream::Status::kOk;

  // Moves bytes both ways until neither side has anything more to say.
  void pump() {
    for (int round = 0; round < 20; ++round) {
      Bytes a = std::move(toServer.bytes);
      toServer.bytes.clear();
      if (!a.empty()) serverStatus = server->receive(a, toClient.writer(), serverPlain.reader());
      Bytes b = std::move(toClient.bytes);
      toClient.bytes.clear();
      if (!b.empty()) clientStatus = client->receive(b, toServer.writer(), clientPlain.reader());
      if (toServer.bytes.empty() && toClient.bytes.empty()) return;
    }
  }
};

std::shared_ptr<const CertificateSet> certs() {
  const TestCerts& t = TestCerts::get();
  static auto set = loadCertificates({{t.path("leaf.pem"), t.path("leaf.key"), "a"},
                                      {t.path("other.pem"), t.path("other.key"), "b"}});
  return set;
}

Pair connect(ServerContext& server, SSL_CTX* clientCtx, const std::string& sni,
             SSL_SESSION* resume = nullptr) {
  Pair p;
  p.server = std::make_unique<TlsStream>(server.newSsl());
  bssl::UniquePtr<SSL> ssl = newClientSsl(clientCtx, sni, true);
  if (resume) SSL_set_session(ssl.get(), resume);
  p.client = std::make_unique<TlsStream>(std::move(ssl));
  p.clientStatus =
      p.client->receive({}, p.toServer.writer(), p.clientPlain.reader());  // ClientHello
  p.pump();
  return p;
}

bssl::UniquePtr<SSL_CTX> clientContext() {
  std::string error;
  auto ctx = makeClientContext(TestCerts::get().path("ca.pem"), false, &error);
  EXPECT_TRUE(ctx) << error;
  return ctx;
}

TEST(TlsStream, HandshakeTls13AlpnAndDataBothWays) {
  ServerContext server(certs(), {});
  auto clientCtx = clientContext();
  Pair p = connect(server, clientCtx.get(), "localhost");
  ASSERT_EQ(p.clientStatus, TlsStream::Status::kOk) << p.client->error();
  ASSERT_TRUE(p.client->handshakeDone());
  ASSERT_TRUE(p.server->handshakeDone());
  EXPECT_EQ(p.server->summary().version, TLS1_3_VERSION);
  EXPECT_EQ(p.server->ssl(), nullptr) << "freed: the record layer needs nothing more of it";
  const std::uint8_t* alpn;
  unsigned alpnLen;
  SSL_get0_alpn_selected(p.client->ssl(), &alpn, &alpnLen);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpnLen), "http/1.1");
  // 100 KiB each way: several records, delivered whole.
  Bytes big(100 * 1024);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::byte>(i * 7);
  ASSERT_TRUE(p.client->send(big, p.toServer.writer()));
  ASSERT_TRUE(p.server->send(big, p.toClient.writer()));
  p.pump();
  EXPECT_EQ(p.serverPlain.bytes, big);
  EXPECT_EQ(p.clientPlain.bytes, big);
}

TEST(TlsStream, ATls13ServerRunsItsOwnRecordsAndTls12StaysWithBoringSsl) {
  ServerContext server(certs(), {});
  auto clientCtx = clientContext();
  Pair p = connect(server, clientCtx.get(), "localhost");
  ASSERT_TRUE(p.server->handshakeDone());
  EXPECT_TRUE(p.server->ownsRecords());
  EXPECT_FALSE(p.client->ownsRecords()) << "clients keep BoringSSL's records";
  auto old = clientContext();
  SSL_CTX_set_max_proto_version(old.get(), TLS1_2_VERSION);
  Pair q = connect(server, old.get(), "localhost");
  ASSERT_TRUE(q.server->handshakeDone());
  EXPECT_FALSE(q.server->ownsRecords());
  const Bytes hello(300, std::byte{'h'});
  ASSERT_TRUE(q.client->send(hello, q.toServer.writer()));
  ASSERT_TRUE(q.server->send(hello, q.toClient.writer()));
  q.pump();
  EXPECT_EQ(q.serverPlain.bytes, hello);
  EXPECT_EQ(q.clientPlain.bytes, hello);
}

TEST(TlsStream, AKeyUpdateThatAsksForOneBackIsAnsweredAndDataFlowsOnBothNewKeys) {
  ServerContext server(certs(), {});
  auto clientCtx = clientContext();
  Pair p = connect(server, clientCtx.get(), "localhost");
  ASSERT_TRUE(p.server->ownsRecords());
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(SSL_key_update(p.client->ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
    const Bytes up(100 + round, std::byte{'u'}), down(200 + round, std::byte{'d'});
    ASSERT_TRUE(p.client->send(up, p.toServer.writer()));  // the KeyUpdate goes first
    p.pump();
    ASSERT_EQ(p.serverStatus, TlsStream::Status::kOk) << p.server->error();
    EXPECT_EQ(p.serverPlain.bytes, up);
    ASSERT_TRUE(p.server->send(down, p.toClient.writer()));
    p.pump();
    ASSERT_EQ(p.clientStatus, TlsStream::Status::kOk) << p.client->error();
    EXPECT_EQ(p.clientPlain.bytes, down) << "the client read our answer and our new key";
    p.serverPlain.bytes.clear();
    p.clientPlain.bytes.clear();
  }
}

TEST(TlsStream, ManyKeyUpdatesWhileWeAreSilentGetOneAnswerBeforeOurNextData) {
  ServerContext server(certs(), {});
  auto clientCtx = clientContext();
  Pair p = connect(server, clientCtx.get(), "localhost");
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(SSL_key_update(p.client->ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
    ASSERT_TRUE(p.client->send(Bytes(1, std::byte{'k'}), p.toServer.writer()));
  }
  Bytes wire = std::move(p.toServer.bytes);
  p.toServer.bytes.clear();
  p.serverStatus = p.server->receive(wire, p.toClient.writer(), p.serverPlain.reader());
  ASSERT_EQ(p.serverStatus, TlsStream::Status::kOk) << p.server->error();
  EXPECT_EQ(p.serverPlain.bytes.size(), 50u);
  EXPECT_TRUE(p.toClient.bytes.empty()) << "nothing is sent while we have nothing to say";
  const Bytes reply(10, std::byte{'r'});
  ASSERT_TRUE(p.server->send(reply, p.toClient.writer()));
  EXPECT_EQ(p.toClient.bytes.size(), (5 + RecordLayer::kOverhead) + (10 + RecordLayer::kOverhead))
      << "one KeyUpdate, then the data";
  p.pump();
  ASSERT_EQ(p.clientStatus, TlsStream::Status::kOk) << p.client->error();
  EXPECT_EQ(p.clientPlain.bytes, reply);
}

TEST(TlsStream, CloseNotifyAndAlertsBothWays) {
  ServerContext server(certs(), {});
  auto clientCtx = clientContext();
  Pair p = connect(server, clientCtx.get(), "localhost");
  p.server->closeNotify(p.toClient.writer());
  p.pump();
  EXPECT_EQ(p.clientStatus, TlsStream::Status::kClosed) << p.client->error();
  p.client->closeNotify(p.toServer.writer());
  p.pump();
  EXPECT_EQ(p.serverStatus, TlsStream::Status::kClosed) << p.server->error();
  // After the end, more records change nothing.
  Bytes late(10);
  EXPECT_EQ(p.server->receive(late, p.toClient.writer(), p.serverPlain.reader()),
            TlsStream::Status::kClosed);
  EXPECT_TRUE(p.serverPlain.bytes.empty());
}

TEST(TlsStream, SniChoosesTheCertificate) {
  ServerContext server(certs(), {});
  auto clientCtx = clientContext();
  Pair other = connect(server, clientCtx.get(), "other.test");
  ASSERT_TRUE(other.client->handshakeDone())
      << other.client->error();  // verified against other.test
  EXPECT_EQ(other.server->summary().serverName, "other.test");
  EXPECT_NE(other.server->summary().certificateChoice, 0u) << "SNI chose it";
  EXPECT_TRUE(server.selected(other.server->summary().certificateChoice).covers("other.test"));
  Pair wild = connect(server, clientCtx.get(), "x.wild.test");
  ASSERT_TRUE(wild.client->handshakeDone()) << wild.client->error();
  EXPECT_TRUE(server.selected(wild.server->summary().certificateChoice).covers("localhost"))
      << "the wildcard lives on the first cert";
  // An unknown name gets the default certificate; the client refuses it.
  Pair unknown = connect(server, clientCtx.get(), "unknown.test");
  EXPECT_EQ(unknown.clientStatus, TlsStream::Status::kError);
  EXPECT_NE(unknown.client->error().find("CERTIFICATE_VERIFY_FAILED"), std::string::npos)
      << unknown.client->error();
}

TEST(TlsStream, MinimumVersion13RefusesTls12Clients) {
  ServerContext server(certs(), {TLS1_3_VERSION, nullptr});
  auto clientCtx = clientContext();
  SSL_CTX_set_max_proto_version(clientCtx.get(), TLS1_2_VERSION);
  Pair p = connect(server, clientCtx.get(), "localhost");
  EXPECT_EQ(p.serverStatus, TlsStream::Status::kError);
  EXPECT_NE(p.server->error().find("UNSUPPORTED_PROTOCOL"), std::string::npos) << p.server->error();
}

TEST(TlsStream, TicketsResumeAcrossWorkers) {
  // Two workers' contexts sharing ticket keys, as wsedge builds them.
  auto keys = std::make_shared<TicketKeys>(3600);
  ServerContext worker0(certs(), {TLS1_2_VERSION, keys});
  ServerContext worker1(certs(), {TLS1_2_VERSION, keys});
  auto clientCtx = clientContext();
  Pair first = connect(worker0, clientCtx.get(), "localhost");
  ASSERT_TRUE(first.client->handshakeDone());
  // TLS 1.3 tickets come after the handshake; a byte of data carries them over.
  ASSERT_TRUE(first.server->send(Bytes(1), first.toClient.writer()));
  first.pump();
  SSL_SESSION* latest = latestSession(clientCtx.get());
  ASSERT_TRUE(latest && SSL_SESSION_is_resumable(latest)) << "no ticket arrived";
  SSL_SESSION_up_ref(latest);
  bssl::UniquePtr<SSL_SESSION> session(latest);
  Pair second = connect(worker1, clientCtx.get(), "localhost", session.get());
  ASSERT_TRUE(second.client->handshakeDone()) << second.client->error();
  EXPECT_TRUE(SSL_session_reused(second.client->ssl()));
  // A context with other keys cannot resume it: a full handshake instead.
  ServerContext stranger(certs(), {TLS1_2_VERSION, std::make_shared<TicketKeys>(3600)});
  Pair third = connect(stranger, clientCtx.get(), "localhost", session.get());
  ASSERT_TRUE(third.client->handshakeDone());
  EXPECT_FALSE(SSL_session_reused(third.client->ssl()));
}

TEST(TlsStream, GarbageInsteadOfAClientHelloIsAnError) {
  ServerContext server(certs(), {});
  TlsStream s(server.newSsl());
  Pipe out, plain;
  std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(s.receive(std::as_writable_bytes(std::span(junk)), out.writer(), plain.reader()),
            TlsStream::Status::kError);
  EXPECT_FALSE(s.error().empty());
}

TEST(TicketKeys, EachPeriodHasFreshRandomKeysSharedByEveryCaller) {
  TicketKeys a(3600);
  const std::uint64_t now = a.periodNow();
  const auto k1 = *a.issuing(now), k1again = *a.issuing(now);
  EXPECT_EQ(std::memcmp(&k1, &k1again, sizeof k1), 0) << "every worker gets the same key";
  const auto found = *a.find(now);
  EXPECT_EQ(std::memcmp(&k1, &found, sizeof k1), 0);
  TicketKeys b(3600);
  const auto other = *b.issuing(now);
  EXPECT_NE(std::memcmp(&k1, &other, sizeof k1), 0) << "nothing derived, nothing shared";
  EXPECT_FALSE(a.find(now - 1)) << "no key is made for a past period";
}

TEST(TicketKeys, AKeyIsKeptForTwoPeriodsThenErased) {
  TicketKeys keys(3600);
  const std::uint64_t now = keys.periodNow();
  const auto old = *keys.issuing(now - 2);
  (void)old;
  // Looking anything up now wipes what is older than the previous period.
  EXPECT_FALSE(keys.find(now - 2)) << "erased";
  const auto previous = *keys.issuing(now - 1);
  const auto current = *keys.issuing(now);
  EXPECT_NE(std::memcmp(&previous, &current, sizeof current), 0);
  const auto kept = keys.find(now - 1);
  ASSERT_TRUE(kept) << "the previous period still resumes";
  EXPECT_EQ(std::memcmp(&previous, &*kept, sizeof previous), 0);
  keys.issuing(now + 1);
  EXPECT_FALSE(keys.find(now - 1));
}

}  // namespace
}  // namespace wsedge::tls
