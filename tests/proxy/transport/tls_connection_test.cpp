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
    return {&s, [](void* p, std::size_t n) {
              auto* out = static_cast<std::string*>(p);
              out->resize(out->size() + n);
              return reinterpret_cast<std::byte*>(out->data() + out->size() - n);
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
    status = stream.receive(std::as_writable_bytes(std::span(records)), into(out), reader());
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

TEST_F(TlsConnectionTest, RecordsSplitAtEveryByteAndRecordsLargerThanAReadArriveWhole) {
  handshake(0);
  ASSERT_TRUE(user_.secured);
  std::string expected;
  // Three records, the stream cut once at every byte.
  for (std::size_t cut = 0; cut <= 3 * (7 + 22); ++cut) {
    std::string records;
    for (const char* word : {"alpha, ", "bravo, ", "charlie"}) records += client_->seal(word);
    ASSERT_EQ(records.size(), 3 * (7 + 22) - 0u);
    const std::size_t at = std::min(cut, records.size());
    peer_->send(records.substr(0, at));
    peer_->send(records.substr(at));
    expected += "alpha, bravo, charlie";
  }
  EXPECT_EQ(user_.data, expected);
  // A full 16 KiB record arriving in reads of 1,000 bytes, then 100 KiB.
  for (std::size_t n : {std::size_t{16384}, std::size_t{100 * 1024}}) {
    user_.data.clear();
    std::string big(n, '\0');
    for (std::size_t i = 0; i < n; ++i) big[i] = static_cast<char>('a' + i % 23);
    peer_->send(client_->seal(big), 1000);
    EXPECT_EQ(user_.data, big) << n;
  }
  EXPECT_EQ(user_.ends, 0) << conn_->tlsError();
  close(conn_, false);
}

TEST_F(TlsConnectionTest, WhatOneFlushSendsIsOneRecordPerChunkAndLargeOutputIs16KiBRecords) {
  handshake(0);
  peer_->take();
  // Ten small writes in one batch: one record on the wire.
  for (int i = 0; i < 10; ++i) {
    conn_->output().write(std::as_bytes(std::span(std::string_view("0123456789"))));
    conn_->output().commit();
  }
  conn_->flush();
  std::string wire = peer_->take();
  EXPECT_EQ(wire.size(), 100 + 22) << "one record: header, 100 bytes, type, tag";
  client_->feed(wire);
  EXPECT_EQ(client_->plain.size(), 100u);
  // 100 KiB: records of at most 16 KiB of plaintext each.
  client_->plain.clear();
  const std::string big(100 * 1024, 'z');
  conn_->output().write(std::as_bytes(std::span(big)));
  conn_->output().commit();
  conn_->flush();
  wire = peer_->take();
  std::size_t records = 0;
  for (std::size_t at = 0; at + 5 <= wire.size(); ++records) {
    const std::size_t length =
        static_cast<std::uint8_t>(wire[at + 3]) << 8 | static_cast<std::uint8_t>(wire[at + 4]);
    EXPECT_LE(length, 16384u + 17);
    at += 5 + length;
  }
  EXPECT_LE(wire.size(), big.size() + records * 22);
  client_->feed(wire);
  EXPECT_EQ(client_->plain, big);
  close(conn_, false);
}

TEST_F(TlsConnectionTest, AHeaderAnnouncingAnOverlongRecordFailsOnceItIsWholeEvenInPieces) {
  handshake(0);
  peer_->send(std::string("\x17\x03\x03", 3));
  EXPECT_EQ(user_.ends, 0) << "three bytes say nothing yet";
  peer_->send(std::string("\xff\x0f", 2));  // 65,295 bytes: more than a record may hold
  EXPECT_EQ(user_.ends, 1) << "refused at once, not after 64 KiB more";
  EXPECT_EQ(user_.lastEnd, kTlsFailure);
  EXPECT_NE(std::string(conn_->tlsError()).find("longer than 16 KiB"), std::string::npos)
      << conn_->tlsError();
  close(conn_, false);
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

TEST_F(TlsConnectionTest, WhatTheUserWroteInABatchThatEndsInABadRecordNeverFollowsTheAlert) {
  handshake(0);
  peer_->take();
  struct Echo final : Handler {
    Connection* conn = nullptr;
    int ends = 0;
    void onConnected(int) override {}
    void onData(std::span<std::byte> d) override {
      conn->output().write(d);
      conn->output().commit();
    }
    void onReadEnd(int) override { ++ends; }
    void onDrained() override {}
  } echo;
  echo.conn = conn_.get();
  conn_->setHandler(echo);
  std::string records = client_->seal("echo me");
  std::string bad = client_->seal("tampered");
  bad.back() ^= 0x01;
  peer_->send(records + bad);
  EXPECT_EQ(echo.ends, 1);
  client_->feed(peer_->take());
  EXPECT_EQ(client_->status, tls::TlsStream::Status::kError) << "the alert";
  EXPECT_EQ(client_->plain, "") << "no data after (or with) the fatal alert";
  close(conn_, false);
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
