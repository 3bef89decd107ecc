#include "io/loop.h"

#include "io/clock.h"
#include "io/notice.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace wsedge::io {
namespace {

void setNoDelay(int fd) {
  // The loop batches writes itself; Nagle would only add latency.
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

Loop::Loop(const Options& options)
    : options_(options), ring_(options.ringEntries), timers_(monotonicMs(), options.tickMs) {
  buffers_ =
      std::make_unique<BufferRing>(ring_.get(), 0, options.recvBufferCount, options.recvBufferSize);
  acceptRetry_.setHandler(this);
  poolDecay_.setHandler(this);
  timers_.scheduleIn(poolDecay_, 1000);
  armWake();
}

Loop::~Loop() {
  for (Listener& l : listeners_) {
    if (l.fd >= 0) ::close(l.fd);
  }
  for (Conn& c : conns_) {
    if (c.fd >= 0) ::close(c.fd);
  }
  buffers_.reset();  // unregisters from the ring, which is still alive
}

// --- listeners ---------------------------------------------------------------

int Loop::listen(const SocketAddress& address, AcceptHandler& handler, std::string* error,
                 int backlog) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = "socket: " + std::string(std::strerror(errno));
    return -1;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Each worker binds its own socket; the kernel spreads connections across them.
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (::bind(fd, address.get(), address.length()) != 0 || ::listen(fd, backlog) != 0) {
    const int err = errno;
    ::close(fd);
    *error = "cannot listen on " + address.toString() + ": " + std::strerror(err);
    return -1;
  }
  listeners_.push_back({fd, &handler, false, false});
  ++listenersOpen_;
  const int index = static_cast<int>(listeners_.size() - 1);
  armAccept(index);
  return index;
}

void Loop::armAccept(int index) {
  Listener& l = listeners_[static_cast<std::size_t>(index)];
  io_uring_sqe* sqe = ring_.sqe();
  // Multishot: one submission keeps accepting until cancelled.
  io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, OpTag{Op::kAccept, static_cast<std::uint32_t>(index), 0}.encode());
  l.armed = true;
}

bool Loop::probeFree(const SocketAddress& address, std::string* error) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = "socket: " + std::string(std::strerror(errno));
    return false;
  }
  // SO_REUSEADDR: connections of an earlier run in TIME_WAIT are no reason
  // to refuse; a listening socket is.
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool free = ::bind(fd, address.get(), address.length()) == 0;
  const int err = errno;
  ::close(fd);
  if (free) return true;
  *error = "cannot listen on " + address.toString() + ": " + std::strerror(err) +
           (err == EADDRINUSE ? " (another process listens there)" : "");
  return false;
}

void Loop::stopListening() {
  for (std::size_t i = 0; i < listeners_.size(); ++i) closeListener(static_cast<int>(i));
}

void Loop::closeListener(int index) {
  if (index < 0 || static_cast<std::size_t>(index) >= listeners_.size()) return;
  Listener& l = listeners_[static_cast<std::size_t>(index)];
  if (l.closing || l.fd < 0) return;
  l.closing = true;
  if (l.armed) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel64(sqe, OpTag{Op::kAccept, static_cast<std::uint32_t>(index), 0}.encode(),
                           0);
    io_uring_sqe_set_data64(sqe, OpTag{}.encode());
  } else {
    ::close(l.fd);
    l.fd = -1;
    --listenersOpen_;
  }
}

void Loop::onAcceptCqe(const OpTag& t, const io_uring_cqe& cqe) {
  Listener& l = listeners_[t.slot];
  const bool more = cqe.flags & IORING_CQE_F_MORE;
  if (!more) l.armed = false;
  if (cqe.res >= 0) {
    if (l.closing) {
      ::close(cqe.res);
    } else {
      l.handler->onAccept(static_cast<int>(t.slot), cqe.res);
    }
  } else if (cqe.res != -ECANCELED) {
    notice("accept: %s", std::strerror(-cqe.res));
  }
  if (more) return;
  if (l.closing) {
    ::close(l.fd);
    l.fd = -1;
    --listenersOpen_;
  } else if (cqe.res == -EMFILE || cqe.res == -ENFILE || cqe.res == -ENOMEM ||
             cqe.res == -ENOBUFS) {
    // Out of descriptors or memory: retry on a later tick instead of spinning.
    if (!acceptRetry_.scheduled()) timers_.scheduleIn(acceptRetry_, 100);
  } else {
    armAccept(static_cast<int>(t.slot));
  }
}

// --- connections -------------------------------------------------------------

ConnId Loop::allocate(int fd, StreamHandler& handler, bool fromReserve) {
  const std::size_t cap =
      std::size_t{options_.maxConnections} + (fromReserve ? options_.refusalReserve : 0);
  if (live_ >= cap || (freeSlots_.empty() && conns_.size() >= OpTag::kMaxSlots)) {
    if (!fromReserve) ++tableFull_;
    return {};
  }
  std::uint32_t slot;
  if (!freeSlots_.empty()) {
    slot = freeSlots_.back();
    freeSlots_.pop_back();
  } else {
    conns_.emplace_back(chunks_);
    slot = static_cast<std::uint32_t>(conns_.size() - 1);
    conns_[slot].linger.slot = slot;
    conns_[slot].linger.setHandler(this);
  }
  Conn& c = conns_[slot];
  if (++c.gen == 0) c.gen = 1;
  c.fd = fd;
  c.handler = &handler;
  c.inflight = 0;
  c.recvArmed = c.readEnded = c.errorReported = c.sending = c.connecting = false;
  c.closing = c.graceful = c.shutDown = c.dirty = c.wantDrain = c.cancelIssued = false;
  c.recvCancelling = false;
  c.recvWanted = true;
  c.recvBudget = c.armedLimit = kNoLimit;
  ++live_;
  return {slot, c.gen};
}

Loop::Conn* Loop::find(ConnId id) {
  if (id.slot >= conns_.size()) return nullptr;
  Conn& c = conns_[id.slot];
  return c.gen == id.gen && c.fd >= 0 && !c.closing ? &c : nullptr;
}

const Loop::Conn* Loop::find(ConnId id) const {
  return const_cast<Loop*>(this)->find(id);
}

bool Loop::alive(ConnId id) const {
  return find(id) != nullptr;
}

void Loop::setHandler(ConnId id, StreamHandler& handler) {
  if (Conn* c = find(id)) c->handler = &handler;
}

ConnId Loop::adopt(int fd, StreamHandler& handler) {
  const ConnId id = allocate(fd, handler);
  if (!id) return id;
  setNoDelay(fd);
  armRecv(id.slot);
  return id;
}

void Loop::refuse(int fd, std::span<const std::byte> bytes) {
  const ConnId id = allocate(fd, *this, true);
  if (!id) {
    ::close(fd);  // even the reserve is gone: nothing better to do
    return;
  }
  setNoDelay(fd);
  Conn& c = conns_[id.slot];
  c.out.write(bytes);
  c.out.commit();
  close(id, true);
}

ConnId Loop::connect(const SocketAddress& address, StreamHandler& handler, int* error) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = -errno;
    return {};
  }
  const ConnId id = allocate(fd, handler);
  if (!id) {
    ::close(fd);
    *error = kTableFull;
    return {};
  }
  setNoDelay(fd);
  Conn& c = conns_[id.slot];
  c.remote = address;  // must outlive the operation: it lives in the slot
  c.connecting = true;
  ++c.inflight;
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_connect(sqe, fd, c.remote.get(), c.remote.length());
  io_uring_sqe_set_data64(sqe, tag(Op::kConnect, id.slot));
  return id;
}

void Loop::onConnect(const OpTag& t, int res) {
  Conn& c = conns_[t.slot];
  c.connecting = false;
  --c.inflight;
  if (c.closing) return advanceClose(t.slot);
  const ConnId id{t.slot, c.gen};
  if (res == 0) armRecv(t.slot);
  c.handler->onConnected(id, res);
}

SendQueue& Loop::output(ConnId id) {
  Conn* c = find(id);
  if (!c) {
    // Callers hold live connections only: a stale id here is a bug.
    std::fprintf(stderr, "wsedge: Loop::output() on a closed connection (slot %u)\n", id.slot);
    std::abort();
  }
  return c->out;
}

std::size_t Loop::pending(ConnId id) const {
  const Conn* c = find(id);
  return c ? c->out.pending() : 0;
}

void Loop::flush(ConnId id) {
  Conn* c = find(id);
  if (!c || c->dirty || c->out.pending() == 0) return;
  c->dirty = true;
  dirty_.push_back(id.slot);
}

void Loop::flushDirty() {
  for (std::uint32_t slot : dirty_) {
    Conn& c = conns_[slot];
    c.dirty = false;
    if (c.fd >= 0 && !c.closing && !c.sending && c.out.pending() > 0) submitSend(slot);
  }
  dirty_.clear();
}

void Loop::notifyWhenDrained(ConnId id, std::size_t below) {
  if (Conn* c = find(id)) {
    c->wantDrain = true;
    c->drainBelow = below;
  }
}

std::uint64_t Loop::bytesSent(ConnId id) const {
  const Conn* c = find(id);
  return c ? c->out.totalSent() : 0;
}

void Loop::submitSend(std::uint32_t slot) {
  Conn& c = conns_[slot];
  iovec iov[kMaxIov];
  const std::size_t n = c.out.gather(iov, kMaxIov);
  if (n == 0) return;
  io_uring_sqe* sqe = ring_.sqe();
  if (n == 1) {
    io_uring_prep_send(sqe, c.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
  } else {
    if (freeVectors_.empty()) freeVectors_.push_back(&vectors_.emplace_back());
    c.vector = freeVectors_.back();
    freeVectors_.pop_back();
    std::copy_n(iov, n, c.vector->iov);
    c.vector->msg = {};
    c.vector->msg.msg_iov = c.vector->iov;
    c.vector->msg.msg_iovlen = n;
    io_uring_prep_sendmsg(sqe, c.fd, &c.vector->msg, MSG_NOSIGNAL);
  }
  io_uring_sqe_set_data64(sqe, tag(Op::kSend, slot));
  c.sending = true;
  ++c.inflight;
}

void Loop::onSend(const OpTag& t, int res) {
  Conn& c = conns_[t.slot];
  c.sending = false;
  --c.inflight;
  if (c.vector) {
    freeVectors_.push_back(c.vector);
    c.vector = nullptr;
  }
  if (res <= 0) {
    // The peer is gone (EPIPE, ECONNRESET) or the send was cancelled.
    c.out.clear();
    if (c.closing) {
      c.graceful = false;
      return advanceClose(t.slot);
    }
    return reportError(t.slot, res == 0 ? -EPIPE : res);
  }
  c.out.consume(static_cast<std::size_t>(res));
  if (c.closing && !c.graceful) return advanceClose(t.slot);
  // A short write, or more was committed meanwhile: keep going.
  if (c.out.pending() > 0) submitSend(t.slot);
  if (c.closing) return advanceClose(t.slot);
  if (c.wantDrain && c.out.pending() <= c.drainBelow) {
    c.wantDrain = false;
    c.handler->onDrained({t.slot, c.gen});
  }
}

void Loop::armRecv(std::uint32_t slot) {
  Conn& c = conns_[slot];
  if (c.recvArmed) return;
  if (c.recvBudget == 0) return;  // armed again once the owner raises the cap
  io_uring_sqe* sqe = ring_.sqe();
  // Multishot recv: one submission per connection instead of one per read;
  // the kernel takes a buffer from the ring only when data arrives.
  io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers_->groupId();
  c.armedLimit = kNoLimit;
  if (c.recvBudget != kNoLimit && recvLimitSupported_) {
    // The multishot ends (without IORING_CQE_F_MORE) once this many bytes
    // have come: sqe->optlen, which liburing 2.3 still calls file_index.
    const auto limit = static_cast<std::uint32_t>(std::min<std::size_t>(c.recvBudget, 1u << 30));
    sqe->file_index = limit;
    c.armedLimit = limit;
  }
  io_uring_sqe_set_data64(sqe, tag(Op::kRecv, slot));
  c.recvArmed = true;
  ++c.inflight;
}

void Loop::cancelRecv(std::uint32_t slot) {
  Conn& c = conns_[slot];
  if (!c.recvArmed || c.recvCancelling) return;
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_cancel64(sqe, tag(Op::kRecv, slot), 0);
  io_uring_sqe_set_data64(sqe, tag(Op::kCancel, slot));
  c.recvCancelling = true;
  ++c.inflight;
}

void Loop::stopRecvIfUnwanted(std::uint32_t slot) {
  const Conn& c = conns_[slot];
  if (!c.recvArmed || c.closing || c.recvCancelling) return;
  if (!c.recvWanted || (recvLimitSupported_ && c.armedLimit > c.recvBudget)) cancelRecv(slot);
}

void Loop::limitRecv(ConnId id, std::size_t bytes) {
  Conn* c = find(id);
  if (!c) return;
  c->recvBudget = bytes;
  if (c->recvArmed) {
    // The armed receive may take more than the new cap allows: re-arm.
    // (Owners lower the cap only by what was delivered, so this happens
    // once, when the first cap replaces an armed receive without one.)
    if (bytes < c->armedLimit) cancelRecv(id.slot);
  } else if (bytes > 0 && c->recvWanted && !c->readEnded && !c->recvCancelling) {
    armRecv(id.slot);
  }
}

void Loop::pauseRecv(ConnId id) {
  Conn* c = find(id);
  if (!c || !c->recvWanted) return;
  c->recvWanted = false;
  cancelRecv(id.slot);
}

void Loop::resumeRecv(ConnId id) {
  Conn* c = find(id);
  if (!c || c->recvWanted) return;
  c->recvWanted = true;
  // If the cancelled recv has not reported back yet, its last completion re-arms.
  if (!c->recvArmed && !c->readEnded) armRecv(id.slot);
}

void Loop::onRecv(const OpTag& t, const io_uring_cqe& cqe) {
  Conn& c = conns_[t.slot];
  const bool more = cqe.flags & IORING_CQE_F_MORE;
  if (!more) {
    c.recvArmed = false;
    --c.inflight;
  }
  const ConnId id{t.slot, c.gen};
  const int res = cqe.res;
  if (res > 0) {
    const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    const auto n = static_cast<std::size_t>(res);
    if (c.recvBudget != kNoLimit) c.recvBudget -= std::min(n, c.recvBudget);
    if (c.armedLimit != kNoLimit) c.armedLimit -= std::min(n, c.armedLimit);
    if (!c.closing && !c.readEnded) c.handler->onData(id, buffers_->data(bid, n));
    buffers_->recycle(bid);
    // The handler may have closed the connection; a closing one re-arms in advanceClose.
    if (!more && !c.closing && c.recvWanted && !c.readEnded) armRecv(t.slot);
    if (more) stopRecvIfUnwanted(t.slot);
  } else if (res == 0) {
    const bool report = !c.closing && !c.readEnded;
    c.readEnded = true;
    if (report) c.handler->onReadEnd(id, 0);
  } else if (res == -ENOBUFS) {
    // The ring ran dry; buffers come back as this batch is processed.
    ++noBufferStops_;
    rearmRecv_.push_back(t.slot);
  } else if (res == -ECANCELED) {
    if (!c.closing && c.recvWanted && !c.readEnded) armRecv(t.slot);  // resumed meanwhile
  } else if (res == -EINVAL && c.armedLimit != kNoLimit && recvLimitSupported_) {
    // A kernel without byte limits on multishot receives (before 6.17):
    // go on without them, for every connection from now on.
    notice(
        "the kernel cannot cap multishot receives (Linux 6.17 can); backpressure may run "
        "past its cap by up to a few dozen buffers");
    recvLimitSupported_ = false;
    if (!c.closing && c.recvWanted && !c.readEnded) armRecv(t.slot);
  } else {
    reportError(t.slot, res);
    c.readEnded = true;
  }
  if (c.closing) advanceClose(t.slot);
}

void Loop::reportError(std::uint32_t slot, int error) {
  Conn& c = conns_[slot];
  if (c.closing || c.readEnded || c.errorReported) return;
  c.errorReported = true;
  c.readEnded = true;
  c.handler->onReadEnd({slot, c.gen}, error);
}

void Loop::close(ConnId id, bool graceful) {
  Conn* c = find(id);
  if (!c) return;
  c->closing = true;
  c->wantDrain = false;
  c->recvBudget = kNoLimit;  // a graceful close reads (and drops) until the peer's end
  c->out.rollback();         // uncommitted bytes never go out
  c->graceful = graceful && !c->connecting && !c->errorReported;
  if (c->graceful) timers_.scheduleIn(c->linger, options_.lingerMs);
  advanceClose(id.slot);
}

void Loop::cancelAll(std::uint32_t slot) {
  Conn& c = conns_[slot];
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, tag(Op::kCancel, slot));
  c.cancelIssued = true;
  ++c.inflight;
}

// The closing state machine, re-entered after every event on a closing
// connection until the socket can be closed.
void Loop::advanceClose(std::uint32_t slot) {
  Conn& c = conns_[slot];
  if (c.fd < 0) return;
  if (c.graceful) {
    if (c.sending) return;
    if (c.out.pending() > 0) return submitSend(slot);
    if (!c.shutDown) {
      // Everything is sent: half-close, then read (and discard) until the
      // peer's EOF, so closing with unread data cannot reset the connection
      // before the peer has read our last bytes.
      ::shutdown(c.fd, SHUT_WR);
      c.shutDown = true;
    }
    if (!c.readEnded) {
      if (!c.recvArmed) armRecv(slot);
      return;
    }
    c.graceful = false;
  }
  if (c.inflight > 0) {
    if (!c.cancelIssued) cancelAll(slot);
    return;
  }
  c.linger.cancel();
  ::close(c.fd);
  c.fd = -1;
  c.out.clear();
  --live_;
  // The slot is reused only after onClosed: a handler that keys its own
  // state by slot must hear of the old connection before a new one arrives.
  closed_.push_back({c.handler, ConnId{slot, c.gen}});
}

void Loop::deliverClosed() {
  while (!closed_.empty()) {
    auto batch = std::move(closed_);
    closed_.clear();
    for (auto& [handler, id] : batch) {
      handler->onClosed(id);
      freeSlots_.push_back(id.slot);
    }
  }
}

void Loop::onTimer(Timer& timer) {
  if (&timer == &poolDecay_) {
    chunks_.decay();
    timers_.scheduleIn(poolDecay_, 1000);
    return;
  }
  if (&timer == &acceptRetry_) {
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
      if (!listeners_[i].armed && !listeners_[i].closing && listeners_[i].fd >= 0) {
        armAccept(static_cast<int>(i));
      }
    }
    return;
  }
  // A graceful close took too long: the peer does not read or never ends.
  const std::uint32_t slot = static_cast<SlotTimer&>(timer).slot;
  Conn& c = conns_[slot];
  if (c.fd >= 0 && c.closing && c.graceful) {
    c.graceful = false;
    advanceClose(slot);
  }
}

std::optional<SocketAddress> Loop::peerAddress(ConnId id) const {
  const Conn* c = find(id);
  if (!c) return std::nullopt;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(c->fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  return SocketAddress(reinterpret_cast<sockaddr*>(&ss), len);
}

// --- running -----------------------------------------------------------------

void Loop::armWake() {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_read(sqe, mailbox_.fd(), &wakeValue_, sizeof wakeValue_, 0);
  io_uring_sqe_set_data64(sqe, OpTag{Op::kWake, 0, 0}.encode());
}

void Loop::dispatch(const io_uring_cqe& cqe) {
  const OpTag t = OpTag::decode(cqe.user_data);
  if (t.op == Op::kAccept) return onAcceptCqe(t, cqe);
  if (t.op == Op::kWake) {
    // The posted tasks run at the end of this batch.
    if (!quitting_) armWake();
    return;
  }
  if (t.op == Op::kNone) return;
  if (t.slot >= conns_.size() || conns_[t.slot].gen != t.gen || conns_[t.slot].fd < 0) {
    // Cannot happen while slots wait for their last completion; still, a
    // stray buffer must go back to the ring.
    if (cqe.flags & IORING_CQE_F_BUFFER) {
      buffers_->recycle(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
    }
    return;
  }
  switch (t.op) {
    case Op::kRecv:
      return onRecv(t, cqe);
    case Op::kSend:
      return onSend(t, cqe.res);
    case Op::kConnect:
      return onConnect(t, cqe.res);
    case Op::kCancel: {
      Conn& c = conns_[t.slot];
      --c.inflight;
      c.recvCancelling = false;
      if (c.closing) return advanceClose(t.slot);
      // Wanted again while the cancel was on its way (resumed, or a cap
      // raised from 0): nothing else re-arms it, since no receive may be
      // armed under a cancel in flight.
      if (!c.recvArmed) {
        if (c.recvWanted && !c.readEnded) armRecv(t.slot);
        return;
      }
      stopRecvIfUnwanted(t.slot);  // the cancel may have missed a receive under way
      return;
    }
    default:
      return;
  }
}

void Loop::run() {
  // Posts from this thread skip the lock: it is the loop's from now on.
  mailbox_.bindToThisThread();
  const std::uint64_t tickNs = std::uint64_t{timers_.tickMs()} * 1000000;
  while (!(quitting_ && live_ == 0 && listenersOpen_ == 0)) {
    poll(nextWaitNs_ > 0 && nextWaitNs_ < tickNs ? nextWaitNs_ : tickNs);
  }
}

void Loop::poll(std::uint64_t waitNs) {
  flushDirty();
  for (std::uint32_t slot : rearmRecv_) {
    Conn& c = conns_[slot];
    const bool wanted = c.closing ? c.graceful : c.recvWanted;
    if (c.fd >= 0 && !c.recvArmed && !c.readEnded && wanted) armRecv(slot);
  }
  rearmRecv_.clear();
  io_uring_cqe* first = nullptr;
  __kernel_timespec ts{static_cast<long long>(waitNs / 1000000000),
                       static_cast<long long>(waitNs % 1000000000)};
  // One syscall both submits this batch and waits for the next (or a tick).
  const int rc = io_uring_submit_and_wait_timeout(&ring_.get(), &first, 1, &ts, nullptr);
  ++iterations_;
  // A timeout or a signal is normal; EBUSY/EAGAIN leave the entries in the
  // queue for the next call, so nothing is lost. Anything else is a bug of
  // ours: say it once.
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN &&
      !submitErrorSaid_) {
    submitErrorSaid_ = true;
    notice("io_uring_submit_and_wait: %s", std::strerror(-rc));
  }
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_.get(), head, cqe) {
    ++seen;
    dispatch(*cqe);
  }
  io_uring_cq_advance(&ring_.get(), seen);
  timers_.advance(monotonicMs());
  deliverClosed();
  if (!mailbox_.empty()) {
    mailbox_.run();
    deliverClosed();
  }
  nextWaitNs_ = 0;
  if (onIteration_) {
    nextWaitNs_ = onIteration_();
    deliverClosed();
  }
}

std::size_t Loop::connectionStateSize() {
  return sizeof(Conn);
}

}  // namespace wsedge::io
