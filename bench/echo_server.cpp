#include "bench/echo_server.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "proxy/http/accept_key.h"
#include "proxy/http/handshake_writer.h"
#include "proxy/http/request_parser.h"
#include "proxy/transport/tls_connection.h"
#include "proxy/ws/frame_parser.h"
#include "proxy/ws/frame_writer.h"

namespace wsedge::bench {

using ws::FrameHeader;
using ws::Opcode;

namespace {
// Stop reading a client whose echoes pile up beyond this.
constexpr std::size_t kMaxPending = 4 << 20;
}  // namespace

// One client: the handler of its own connection.
class EchoServer::Conn final : private transport::Handler {
 public:
  Conn(EchoServer& server, transport::ConnectionPtr connection)
      : server_(server), conn_(std::move(connection)) {
    conn_->setHandler(*this);
  }

  void close(bool graceful) {
    transport::close(conn_, graceful);
    server_.closed(*this);  // deletes this
  }

  Conn* prev = nullptr;
  Conn* next = nullptr;

 private:
  struct Sink;

  void onConnected(int) override {}
  void onData(std::span<std::byte> data) override;
  void onReadEnd(int) override { close(true); }
  void onDrained() override {
    if (paused_) {
      paused_ = false;
      conn_->resumeRecv();
    }
  }

  void upgrade(std::span<std::byte> data);
  void writeControl(Opcode op, std::span<const std::byte> payload);
  void send(std::string_view text);

  EchoServer& server_;
  transport::ConnectionPtr conn_;
  std::unique_ptr<http::RequestParser> request_ = std::make_unique<http::RequestParser>();
  ws::ServerFrameParser parser_;
  bool paused_ = false;
  bool closing_ = false;
};

// Echo each frame as it is parsed: the header at once, then the payload
// piece by piece, each committed so large frames stream through.
struct EchoServer::Conn::Sink {
  Conn& c;
  io::SendQueue& out;

  void onFrameStart(const FrameHeader& h) {
    FrameHeader o = h;
    o.masked = false;
    std::byte* p = out.reserve(ws::frameHeaderSize(o.length, false));
    ws::writeFrameHeader(p, o);
    out.commit();
  }
  void onPayload(std::span<std::byte> data) {
    out.write(data);
    out.commit();
  }
  void onFrameEnd(const FrameHeader&) {}
  void onControl(Opcode op, std::span<const std::byte> payload) {
    if (op == Opcode::kPing) c.writeControl(Opcode::kPong, payload);
  }
  void onClose(std::uint16_t code, std::string_view reason) {
    std::byte payload[ws::kMaxControlPayload];
    const std::size_t n = code == 1005 ? 0 : ws::writeClosePayload(payload, code, reason);
    c.writeControl(Opcode::kClose, {payload, n});
    c.closing_ = true;
  }
};

void EchoServer::Conn::writeControl(Opcode op, std::span<const std::byte> payload) {
  std::vector<std::byte> frame;
  FrameHeader h;
  h.opcode = op;
  ws::appendFrame(frame, h, payload);
  conn_->output().write(frame);
  conn_->output().commit();
}

void EchoServer::Conn::send(std::string_view text) {
  conn_->output().write(std::as_bytes(std::span(text)));
  conn_->output().commit();
  conn_->flush();
}

void EchoServer::Conn::upgrade(std::span<std::byte> data) {
  const std::size_t used =
      request_->feed({reinterpret_cast<const char*>(data.data()), data.size()});
  std::string response;
  if (request_->state() == http::RequestParser::State::kRejected) {
    http::writeRejection(response, request_->rejection());
    send(response);
    return close(true);
  }
  if (request_->state() != http::RequestParser::State::kComplete) return;
  if (!request_->upgrade()) {
    http::writeRejection(response, http::Rejection::kNotWebSocketUpgrade);
    send(response);
    return close(true);
  }
  const std::string_view protocol = request_->protocols().empty() ? "" : request_->protocols()[0];
  http::writeSwitchingProtocols(response, http::computeAcceptKey(request_->key()), protocol, "");
  request_.reset();
  send(response);
  if (used < data.size()) onData(data.subspan(used));
}

void EchoServer::Conn::onData(std::span<std::byte> data) {
  if (closing_) return;
  if (request_) return upgrade(data);
  Sink sink{*this, conn_->output()};
  if (parser_.feed(data, sink) == ws::ParseStatus::kError) {
    std::byte payload[ws::kMaxControlPayload];
    const ws::FrameError& e = parser_.error();
    const std::size_t n = ws::writeClosePayload(payload, ws::toWire(e.code), e.reason);
    writeControl(Opcode::kClose, {payload, n});
    closing_ = true;
  }
  conn_->flush();
  if (closing_) return close(true);
  if (!paused_ && conn_->pending() > kMaxPending) {
    paused_ = true;
    conn_->pauseRecv();
    conn_->notifyWhenDrained(kMaxPending / 4);
  }
}

EchoServer::EchoServer(io::Loop& loop, const io::SocketAddress& address,
                       std::shared_ptr<const tls::CertificateSet> certificates)
    : loop_(loop), net_(loop) {
  if (certificates) {
    tls_ = std::make_unique<tls::ServerContext>(std::move(certificates), tls::ServerOptions{});
  }
  std::string error;
  if (loop_.listen(address, *this, &error) < 0) throw std::runtime_error(error);
}

EchoServer::~EchoServer() {
  while (head_) head_->close(false);
}

void EchoServer::stop() {
  stopping_ = true;
  loop_.stopListening();
  while (head_) head_->close(false);
  loop_.quit();
}

void EchoServer::onAccept(int, int fd) {
  if (stopping_) return loop_.refuse(fd, {});
  transport::ConnectionPtr c = net_.adopt(fd);
  if (!c) return loop_.refuse(fd, {});
  if (tls_) {
    bssl::UniquePtr<SSL> ssl = tls_->newSsl();
    if (!ssl) return transport::close(c, false);
    c = transport::secure(std::move(c), std::move(ssl), loop_.chunkPool());
  }
  auto* conn = new Conn(*this, std::move(c));
  conn->next = head_;
  if (head_) head_->prev = conn;
  head_ = conn;
}

void EchoServer::closed(Conn& c) {
  if (c.prev) {
    c.prev->next = c.next;
  } else {
    head_ = c.next;
  }
  if (c.next) c.next->prev = c.prev;
  // Its connection is closing on its own; nothing of the Conn is on the
  // stack below this call but the return path, which touches nothing.
  delete &c;
}

}  // namespace wsedge::bench
