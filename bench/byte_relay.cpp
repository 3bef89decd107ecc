#include "bench/byte_relay.h"

#include <stdexcept>
#include <string>

namespace wsedge::bench {

namespace {
constexpr std::size_t kMaxPending = 1 << 20;  // the proxy's default per direction
}

struct ByteRelay::Pair {
  io::ConnId client;
  io::ConnId backend;
  bool connected = false;
  bool clientPaused = false;
  bool backendPaused = false;
  std::vector<std::byte> early;  // client bytes before the backend connected
};

ByteRelay::ByteRelay(io::Loop& loop, const io::SocketAddress& listen,
                     const io::SocketAddress& target)
    : loop_(loop), target_(target) {
  std::string error;
  if (loop_.listen(listen, *this, &error) < 0) throw std::runtime_error(error);
}

ByteRelay::~ByteRelay() = default;

void ByteRelay::stop() {
  stopping_ = true;
  loop_.stopListening();
  for (auto& p : bySlot_) {
    if (p) closePair(*p);
  }
  loop_.quit();
}

ByteRelay::Pair* ByteRelay::find(io::ConnId id) {
  if (id.slot >= bySlot_.size() || !bySlot_[id.slot]) return nullptr;
  Pair* p = bySlot_[id.slot].get();
  return p->client == id || p->backend == id ? p : nullptr;
}

void ByteRelay::onAccept(int, int fd) {
  if (stopping_) return loop_.refuse(fd, {});
  auto pair = std::make_shared<Pair>();
  pair->client = loop_.adopt(fd, *this);
  if (!pair->client) return loop_.refuse(fd, {});
  int error = 0;
  pair->backend = loop_.connect(target_, *this, &error);
  for (io::ConnId id : {pair->client, pair->backend}) {
    if (!id) continue;
    if (bySlot_.size() <= id.slot) bySlot_.resize(id.slot + 1);
    bySlot_[id.slot] = pair;
  }
  if (!pair->backend) loop_.close(pair->client, false);
}

void ByteRelay::onConnected(io::ConnId id, int error) {
  Pair* p = find(id);
  if (!p) return;
  if (error != 0) return closePair(*p);
  p->connected = true;
  if (!p->early.empty() && loop_.alive(p->backend)) {
    loop_.output(p->backend).write(p->early);
    loop_.output(p->backend).commit();
    loop_.flush(p->backend);
    p->early = {};
  }
}

void ByteRelay::onData(io::ConnId id, std::span<std::byte> data) {
  Pair* p = find(id);
  if (!p) return;
  const bool fromClient = id == p->client;
  if (fromClient && !p->connected) {
    p->early.insert(p->early.end(), data.begin(), data.end());
    return;
  }
  const io::ConnId to = fromClient ? p->backend : p->client;
  if (!loop_.alive(to)) return;
  io::SendQueue& out = loop_.output(to);
  out.write(data);
  out.commit();
  loop_.flush(to);
  bool& paused = fromClient ? p->clientPaused : p->backendPaused;
  if (!paused && out.pending() >= kMaxPending) {
    paused = true;
    loop_.pauseRecv(id);
    loop_.notifyWhenDrained(to);
  }
}

void ByteRelay::onDrained(io::ConnId id) {
  Pair* p = find(id);
  if (!p) return;
  if (id == p->backend && p->clientPaused) {
    p->clientPaused = false;
    loop_.resumeRecv(p->client);
  } else if (id == p->client && p->backendPaused) {
    p->backendPaused = false;
    loop_.resumeRecv(p->backend);
  }
}

void ByteRelay::closePair(Pair& p) {
  loop_.close(p.client, true);
  loop_.close(p.backend, true);
}

void ByteRelay::onReadEnd(io::ConnId id, int) {
  if (Pair* p = find(id)) closePair(*p);
}

void ByteRelay::onClosed(io::ConnId id) {
  // The slot may already serve a newer connection: only clear our own.
  if (find(id)) bySlot_[id.slot].reset();
}

}  // namespace wsedge::bench
