// TLS on top of a connection, over the in-memory transport: the test plays
// a TLS client with BoringSSL's own stream on the far side.
#include "proxy/transport/tls_connection.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/fake_transport.h"
#include "tests/support/test_certs.h"
#include "tls/server_context.h"

namespace wsedge::transport {
namespace {

using testing::FakeNetwork;
using testing::FakePeer;
using testing::TestCerts;

struct User final : Handler {
  std::string data;
  int ends = 0;
  int lastEnd = 1;
  bool secured = false;
  Connection* conn = nullptr;
  bool closeOnData = false;
  void onConnected(int) override {}
  void onData(std::span<std::byte> d) override {
    data.append(reinterpret_cast<const char*>(d.data()), d.size());
    if (closeOnData && conn) {
      conn->close(true);
      conn = nullptr;
    }
  }
  void onReadEnd(int error) override {
    ++ends;
    lastEnd = error;
  }
  void onDrained() override {}
  void onSecured() override { secured = true; }
};

// The far side: a TLS client fed from and feeding the fake peer.
struct Client {
  tls::TlsStream stream;
  std::string plain;
  tls::TlsStream::Status status = tls::TlsStream::Status::kOk;

  explicit Client(SSL_CTX* ctx) : stream(tls::newClientSsl(ctx, "localhost", true)) {}

  static tls::TlsStream::Writer into(std::string& s) {
    return {&s, [](void* p, const std::byte* d, std::size_t n) {
              static_cast<std::string*>(p)->append(reinterpret_cast<const char*>(d), n);
            }};
  }
  tls::TlsStream::Reader reader() {
    return {this, [](void* p, std::span<std::byte> d) {
              static_cast<Client*>(p)->plain.append(reinterpret_cast<const char*>(d.data()),
                                                    d.size());
            }};
  }
  /// Feeds what the server sent; returns what the client answers.
  std::string feed(std::string records) {
    std::string out;
    status = stream.receive(std::as_bytes(std::span(records)), into(out), reader());
    return out;
  }
  std::string seal(std::string_view text) {
    std::string out;
    stream.send(std::as_bytes(std::span(text)), into(out));
    return out;
  }
};

class TlsConnectionTest : public ::testing::Test {
 protected:
  TlsConnectionTest() {
    const TestCerts& t = TestCerts::get();
    server_ = std::make_unique<tls::ServerContext>(
        tls::loadCertificates({{t.path("leaf.pem"), t.path("leaf.key"), "a"}}),
        tls::ServerOptions{});
    std::string error;
    clientCtx_ = tls::makeClientContext(t.path("ca.pem"), false, &error);
  }

  /// A server-side TLS connection whose far end is `peer`; `piece` splits
  /// every flight the client sends.
  void handshake(std::size_t piece) {
    auto [conn, p] = net_.accept();
    peer_ = p;
    conn_ = secure(std::move(conn), server_->newSsl(), net_.chunks());
    conn_->setHandler(user_);
    client_ = std::make_unique<Client>(clientCtx_.get());
    std::string toServer = client_->feed({});  // ClientHello
    for (int round = 0; round < 10 && !toServer.empty(); ++round) {
      peer_->send(toServer, piece);
      toServer = client_->feed(peer_->take());
    }
  }

  FakeNetwork net_;
  std::unique_ptr<tls::ServerContext> server_;
  bssl::UniquePtr<SSL_CTX> clientCtx_;
  std::shared_ptr<FakePeer> peer_;
  ConnectionPtr conn_;
  std::unique_ptr<Client> client_;
  User user_;
};

TEST_F(TlsConnectionTest, HandshakeAndRecordsSplitAtAnyByteCarryPlaintextBothWays) {
  for (std::size_t piece : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
    user_ = User{};
    handshake(piece);
    ASSERT_TRUE(client_->stream.handshakeDone()) << "piece " << piece;
    ASSERT_EQ(user_.ends, 0) << conn_->tlsError() << " / " << client_->stream.error();
    EXPECT_TRUE(user_.secured);
    // Two records in one read, then one split anywhere.
    // (Sealed one after the other: records carry sequence numbers.)
    std::string records = client_->seal("first ");
    records += client_->seal("second");
    peer_->send(records, piece);
    EXPECT_EQ(user_.data, "first second");
    conn_->output().write(std::as_bytes(std::span(std::string_view("from the server"))));
    conn_->output().commit();
    EXPECT_EQ(conn_->pending(), 15u) << "plaintext waits for flush()";
    conn_->flush();
    client_->feed(peer_->take());
    EXPECT_EQ(client_->plain, "from the server");
    // A graceful close says close_notify.
    close(conn_, true);
    EXPECT_TRUE(peer_->closed() && peer_->graceful());
    client_->feed(peer_->take());
    EXPECT_EQ(client_->status, tls::TlsStream::Status::kClosed);
  }
}

TEST_F(TlsConnectionTest, ThePeersCloseNotifyIsAnOrderlyEnd) {
  handshake(0);
  std::string out;
  client_->stream.closeNotify(Client::into(out));
  peer_->send(out);
  EXPECT_EQ(user_.ends, 1);
  EXPECT_EQ(user_.lastEnd, 0);
  close(conn_, false);
}

TEST_F(TlsConnectionTest, ABadRecordEndsWithTheAlertSentEvenOnAnAbortiveClose) {
  handshake(0);
  std::string record = client_->seal("tampered");
  record[record.size() - 1] ^= 0x01;  // the tag no longer matches
  peer_->send(record);
  EXPECT_EQ(user_.ends, 1);
  EXPECT_EQ(user_.lastEnd, kTlsFailure);
  EXPECT_NE(std::string(conn_->tlsError()), "");
  EXPECT_TRUE(user_.data.empty()) << "nothing of a bad record is delivered";
  peer_->send(client_->seal("more"));
  EXPECT_EQ(user_.ends, 1) << "reported once";
  close(conn_, false);
  EXPECT_TRUE(peer_->graceful()) << "the alert is flushed";
  client_->feed(peer_->take());
  EXPECT_EQ(client_->status, tls::TlsStream::Status::kError) << "the client hears the alert";
}

TEST_F(TlsConnectionTest, AUserMayCloseFromInsideAPlaintextCallback) {
  handshake(0);
  user_.conn = conn_.release();
  user_.closeOnData = true;
  // Two records in one read: the user closes on the first.
  std::string records = client_->seal("one");
  records += client_->seal("two");
  peer_->send(records);
  EXPECT_EQ(user_.data, "one") << "nothing after the user closed";
  EXPECT_TRUE(peer_->closed());
}

}  // namespace
}  // namespace wsedge::transport
