#include "bench/echo_server.h"

#include <unistd.h>

#include "proxy/http/accept_key.h"
#include "proxy/http/handshake_writer.h"
#include "proxy/ws/frame_writer.h"

namespace wsedge::bench {

using ws::FrameHeader;
using ws::Opcode;

namespace {
// Stop reading a client whose echoes pile up beyond this.
constexpr std::size_t kMaxPending = 4 << 20;
}  // namespace

struct EchoServer::Conn {
  io::ConnId id;
  std::unique_ptr<tls::TlsStream> tls;  // wss:// only
  io::SendQueue plain;                  // wss:// only: plaintext before sealing
  std::unique_ptr<http::UpgradeRequestParser> request =
      std::make_unique<http::UpgradeRequestParser>();
  ws::ServerFrameParser parser;
  bool paused = false;
  bool closing = false;
  Conn(const ws::FrameLimits& limits, io::ChunkPool& pool) : plain(pool), parser(limits) {}
};

// Echo each frame as it is parsed: the header at once, then the payload
// piece by piece, each committed so large frames stream through.
struct EchoServer::Sink {
  EchoServer& s;
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
    if (op == Opcode::kPing) s.writeControl(c, Opcode::kPong, payload);
  }
  void onClose(std::uint16_t code, std::string_view reason) {
    std::byte payload[ws::kMaxControlPayload];
    const std::size_t n = code == 1005 ? 0 : ws::writeClosePayload(payload, code, reason);
    s.writeControl(c, Opcode::kClose, {payload, n});
    c.closing = true;
  }
};

EchoServer::EchoServer(io::Loop& loop, const io::SocketAddress& address,
                       std::shared_ptr<const tls::CertificateSet> certificates)
    : loop_(loop) {
  if (certificates)
    tls_ = std::make_unique<tls::ServerContext>(std::move(certificates), tls::ServerOptions{});
  loop_.listen(address, *this);
}

io::SendQueue& EchoServer::out(Conn& c) {
  return c.tls ? c.plain : loop_.output(c.id);
}

void EchoServer::flush(Conn& c) {
  if (!loop_.alive(c.id)) return;
  if (c.tls) tls::sealQueue(*c.tls, c.plain, loop_.output(c.id));
  loop_.flush(c.id);
}

EchoServer::~EchoServer() = default;

void EchoServer::stop() {
  stopping_ = true;
  loop_.stopListening();
  for (auto& c : bySlot_) {
    if (c) loop_.close(c->id, false);
  }
  loop_.quit();
}

EchoServer::Conn* EchoServer::find(io::ConnId id) {
  if (id.slot >= bySlot_.size() || !bySlot_[id.slot] || !(bySlot_[id.slot]->id == id))
    return nullptr;
  return bySlot_[id.slot].get();
}

void EchoServer::onAccept(int, int fd) {
  if (stopping_) {
    ::close(fd);
    return;
  }
  ws::FrameLimits limits;
  limits.maxFrameSize = limits.maxMessageSize = std::uint64_t{1} << 32;
  auto conn = std::make_unique<Conn>(limits, loop_.chunkPool());
  if (tls_) conn->tls = std::make_unique<tls::TlsStream>(tls_->newSsl());
  const io::ConnId id = loop_.adopt(fd, *this);
  conn->id = id;
  if (bySlot_.size() <= id.slot) bySlot_.resize(id.slot + 1);
  bySlot_[id.slot] = std::move(conn);
}

void EchoServer::writeControl(Conn& c, Opcode op, std::span<const std::byte> payload) {
  std::vector<std::byte> frame;
  FrameHeader h;
  h.opcode = op;
  ws::appendFrame(frame, h, payload);
  io::SendQueue& q = out(c);
  q.write(frame);
  q.commit();
}

void EchoServer::upgrade(Conn& c, std::span<std::byte> data) {
  const std::size_t used =
      c.request->feed({reinterpret_cast<const char*>(data.data()), data.size()});
  std::string response;
  if (c.request->state() == http::UpgradeRequestParser::State::kRejected) {
    http::writeRejection(response, c.request->rejection());
    io::SendQueue& q = out(c);
    q.write(std::as_bytes(std::span(response)));
    q.commit();
    flush(c);
    loop_.close(c.id, true);
    return;
  }
  if (c.request->state() != http::UpgradeRequestParser::State::kComplete) return;
  const std::string_view protocol = c.request->protocols().empty() ? "" : c.request->protocols()[0];
  http::writeSwitchingProtocols(response, http::computeAcceptKey(c.request->key()), protocol, "");
  c.request.reset();
  io::SendQueue& q = out(c);
  q.write(std::as_bytes(std::span(response)));
  q.commit();
  flush(c);
  if (used < data.size()) onPlaintext(c, data.subspan(used));
}

void EchoServer::onData(io::ConnId id, std::span<std::byte> data) {
  Conn* c = find(id);
  if (!c || c->closing) return;
  if (!c->tls) return onPlaintext(*c, data);
  struct Ctx {
    EchoServer* self;
    Conn* c;
  } ctx{this, c};
  const tls::TlsStream::Status st = c->tls->receive(data, tls::writerFor(loop_.output(id)),
                                                    {&ctx, [](void* p, std::span<std::byte> plain) {
                                                       auto* x = static_cast<Ctx*>(p);
                                                       if (!x->c->closing)
                                                         x->self->onPlaintext(*x->c, plain);
                                                     }});
  if (st != tls::TlsStream::Status::kOk)
    return loop_.close(id, st == tls::TlsStream::Status::kClosed);
  if (!c->closing) flush(*c);
}

void EchoServer::onPlaintext(Conn& conn, std::span<std::byte> data) {
  Conn* c = &conn;
  const io::ConnId id = c->id;
  if (c->request) return upgrade(*c, data);
  Sink sink{*this, *c, out(*c)};
  const ws::ParseStatus st = c->parser.feed(data, sink);
  if (st == ws::ParseStatus::kError) {
    std::byte payload[ws::kMaxControlPayload];
    const ws::FrameError& e = c->parser.error();
    const std::size_t n = ws::writeClosePayload(payload, ws::toWire(e.code), e.reason);
    writeControl(*c, Opcode::kClose, {payload, n});
    c->closing = true;
  }
  flush(*c);
  if (c->closing) return loop_.close(id, true);
  if (!c->paused && loop_.output(id).pending() > kMaxPending) {
    c->paused = true;
    loop_.pauseRecv(id);
    loop_.notifyWhenDrained(id);
  }
}

void EchoServer::onDrained(io::ConnId id) {
  if (Conn* c = find(id); c && c->paused) {
    c->paused = false;
    loop_.resumeRecv(id);
  }
}

void EchoServer::onReadEnd(io::ConnId id, int) {
  loop_.close(id, true);
}

void EchoServer::onClosed(io::ConnId id) {
  if (find(id)) bySlot_[id.slot].reset();
}

}  // namespace wsedge::bench
