// A session whose client speaks wss: TLS over the in-memory transport, the
// test playing the TLS client with BoringSSL on the far side, and checking
// what the backend reads, byte for byte.
#include "proxy/transport/tls_connection.h"
#include "tests/proxy/session/session_fixture.h"
#include "tests/support/test_certs.h"
#include "tls/server_context.h"

namespace wsedge::proxy {
namespace {

struct TlsClient {
  tls::TlsStream stream;
  std::string plain;
  tls::TlsStream::Status status = tls::TlsStream::Status::kOk;

  explicit TlsClient(SSL_CTX* ctx) : stream(tls::newClientSsl(ctx, "127.0.0.1", false)) {}

  tls::TlsStream::Writer into(std::string& s) {
    return {&s, [](void* p, std::size_t n) {
              auto* out = static_cast<std::string*>(p);
              out->resize(out->size() + n);
              return reinterpret_cast<std::byte*>(out->data() + out->size() - n);
            }};
  }
  std::string feed(std::string records) {
    std::string out;
    status = stream.receive(std::as_writable_bytes(std::span(records)), into(out),
                            {this, [](void* self, std::span<std::byte> d) {
                               static_cast<TlsClient*>(self)->plain.append(
                                   reinterpret_cast<const char*>(d.data()), d.size());
                             }});
    return out;
  }
  std::string seal(std::string_view text) {
    std::string out;
    stream.send(std::as_bytes(std::span(text)), into(out));
    return out;
  }
  std::string closeNotify() {
    std::string out;
    stream.closeNotify(into(out));
    return out;
  }
};

class TlsSessionTest : public SessionTest {
 protected:
  TlsSessionTest() {
    const testing::TestCerts& t = testing::TestCerts::get();
    server_ = std::make_unique<tls::ServerContext>(
        tls::loadCertificates({{t.path("leaf.pem"), t.path("leaf.key"), "a"}}),
        tls::ServerOptions{});
    std::string error;
    clientCtx_ = tls::makeClientContext("", true, &error);
  }

  /// A wss session through to an open tunnel: {client, backend}.
  std::pair<std::shared_ptr<FakePeer>, std::shared_ptr<FakePeer>> openWss() {
    auto [conn, peer] = net_.accept();
    generation_->snapshot->listeners[0].active->fetch_add(1);
    live_.push_back(
        new Session(ctx_, generation_, 0,
                    transport::secure(std::move(conn), server_->newSsl(), net_.chunks())));
    client_ = std::make_unique<TlsClient>(clientCtx_.get());
    std::string toServer = client_->feed({});
    for (int round = 0; round < 10 && !toServer.empty(); ++round) {
      peer->send(toServer);
      toServer = client_->feed(peer->take());
    }
    EXPECT_TRUE(client_->stream.handshakeDone()) << client_->stream.error();
    peer->send(client_->seal(upgradeRequest()));
    EXPECT_FALSE(net_.dials().empty());
    auto backend = net_.dials().back();
    backend->accept(0);
    backend->take();
    backend->send(switchingProtocols());
    client_->feed(peer->take());
    EXPECT_EQ(client_->plain.rfind("HTTP/1.1 101", 0), 0u) << client_->plain;
    client_->plain.clear();
    return {peer, backend};
  }

  std::unique_ptr<tls::ServerContext> server_;
  bssl::UniquePtr<SSL_CTX> clientCtx_;
  std::unique_ptr<TlsClient> client_;
};

TEST_F(TlsSessionTest, AFrameSplitAcrossRecordsAndReadsReachesTheBackendWhole) {
  auto [client, backend] = openWss();
  const std::string f = frame(ws::Opcode::kText, "one frame in three records", true);
  // Sealed in order (each record has the next sequence number), sent in
  // reads of 3 bytes.
  std::string records = client_->seal(f.substr(0, 1));
  records += client_->seal(f.substr(1, 9));
  records += client_->seal(f.substr(10));
  client->send(records, 3);
  Frames got = atBackend(backend->take());
  ASSERT_EQ(got.list.size(), 1u);
  EXPECT_EQ(got.list[0].op, ws::Opcode::kText);
  EXPECT_EQ(got.list[0].payload, "one frame in three records");
  // And back: the backend's frame, sealed, read by the client.
  backend->send(frame(ws::Opcode::kText, "answer", false));
  client_->feed(client->take());
  Frames back = atClient(client_->plain);
  ASSERT_EQ(back.list.size(), 1u);
  EXPECT_EQ(back.list[0].payload, "answer");
}

TEST_F(TlsSessionTest, CloseNotifyInTheMiddleOfAFrameGivesTheBackend1001AndNoHalfFrame) {
  auto [client, backend] = openWss();
  const std::string f = frame(ws::Opcode::kBinary, std::string(500, 'x'), true);
  client->send(client_->seal(f.substr(0, 200)));
  client->send(client_->closeNotify());
  Frames got = atBackend(backend->take());
  ASSERT_EQ(got.list.size(), 1u) << "only the close: the half frame is dropped";
  EXPECT_EQ(got.list[0].op, ws::Opcode::kClose);
  EXPECT_EQ(got.list[0].code, 1001);
  EXPECT_EQ(lastRecord().endedBy, Side::kClient);
}

TEST_F(TlsSessionTest, ARecordWithABadTagGivesTheBackend1001AndTheClientAnAlert) {
  auto [client, backend] = openWss();
  std::string record = client_->seal(frame(ws::Opcode::kText, "tampered", true));
  record[record.size() - 3] ^= 0x20;
  client->send(record);
  Frames got = atBackend(backend->take());
  ASSERT_EQ(got.list.size(), 1u) << "nothing of the bad record is forwarded";
  EXPECT_EQ(got.list[0].code, 1001);
  client_->feed(client->take());
  EXPECT_EQ(client_->status, tls::TlsStream::Status::kError) << "the client hears bad_record_mac";
  EXPECT_NE(client_->stream.error().find("BAD_RECORD_MAC"), std::string::npos)
      << client_->stream.error();
  EXPECT_TRUE(client->closed());
}

}  // namespace
}  // namespace wsedge::proxy
