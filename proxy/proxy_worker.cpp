#include "proxy/proxy_worker.h"

#include <algorithm>
#include <chrono>

#include "proxy/http/handshake_writer.h"
#include "proxy/log.h"
#include "proxy/session/session.h"
#include "proxy/transport/tls_connection.h"

namespace wsedge::proxy {

ProxyWorker::ProxyWorker(io::Loop& loop, unsigned index, telemetry::AccessLog* accessLog)
    : loop_(loop),
      index_(index),
      accessLog_(accessLog),
      net_(loop),
      upstreams_(net_.timers()),
      redis_(loop, hub_, metrics_.push),
      ctx_{net_, masks_, *this, accessLog != nullptr, &upstreams_, &hub_, &metrics_.push},
      shutdownTimer_(this) {}

telemetry::LoopCounters ProxyWorker::loopCounters() const {
  telemetry::LoopCounters c;
  c.iterations = loop_.iterations();
  c.submitted = loop_.submitted();
  c.noBufferStops = loop_.noBufferStops();
  c.sessions = sessions_;
  return c;
}

ProxyWorker::~ProxyWorker() {
  while (head_) {
    Session* s = head_;
    head_ = s->next;
    delete s;
  }
  if (farewell_) farewell_(metrics_, loopCounters());
}

int ProxyWorker::listenerSocket(const io::SocketAddress& address) const {
  const std::string key = address.toString();
  for (const Bound& b : bound_) {
    if (b.address == key) return b.socket;
  }
  return -1;
}

bool ProxyWorker::install(std::shared_ptr<const Snapshot> snapshot, std::string* error) {
  std::shared_ptr<Generation> next;
  try {
    next = std::make_shared<Generation>(std::move(snapshot), &metrics_);
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
  const Snapshot& snap = *next->snapshot;
  // Open what is new first: if one fails, close those and change nothing.
  std::vector<Bound> bound;
  std::vector<Bound> opened;
  for (const ListenerSnapshot& l : snap.listeners) {
    int socket = listenerSocket(l.address);
    if (socket < 0) {
      socket = loop_.listen(l.address, *this, error);
      if (socket < 0) {
        for (const Bound& b : opened) loop_.closeListener(b.socket);
        return false;
      }
      opened.push_back({l.address.toString(), socket});
    }
    bound.push_back({l.address.toString(), socket});
  }
  for (const Bound& old : bound_) {
    const bool kept = std::any_of(bound.begin(), bound.end(),
                                  [&](const Bound& b) { return b.socket == old.socket; });
    if (!kept) loop_.closeListener(old.socket);
  }
  listenerOf_.assign(listenerOf_.size(), std::nullopt);
  for (std::size_t i = 0; i < bound.size(); ++i) {
    const auto socket = static_cast<std::size_t>(bound[i].socket);
    if (listenerOf_.size() <= socket) listenerOf_.resize(socket + 1);
    listenerOf_[socket] = i;
  }
  bound_ = std::move(bound);
  current_ = std::move(next);
  const Snapshot& now = *current_->snapshot;
  redis_.configure(now.config.redis ? &*now.config.redis : nullptr,
                   now.redis ? &*now.redis : nullptr, now.config.pubsubQueue);
  return true;
}

std::size_t ProxyWorker::publish(std::string_view channel, std::span<const std::byte> payload,
                                 bool binary) {
  const auto start = std::chrono::steady_clock::now();
  ++metrics_.push.fromBus;
  const std::size_t n = hub_.publish(channel, payload, binary);
  metrics_.push.deliveries += n;
  metrics_.push.fanout.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return n;
}

void ProxyWorker::stop() {
  if (stopping_) return;
  stopping_ = true;
  shutdownTimer_.cancel();
  loop_.stopListening();
  upstreams_.closeAll();
  for (Session* s = head_; s;) {
    Session* next = s->next;  // an ended session is deleted later, not now
    s->shutdown();
    s = next;
  }
  redis_.stop();
  loop_.quit();
}

template <class Pick>
std::size_t ProxyWorker::spread(Pick&& pick, Tunnel::Drain why, std::uint64_t windowMs) {
  std::vector<Session*> chosen;
  for (Session* s = head_; s; s = s->next) {
    // Before its 101 a session has nothing to close yet; it is drained as
    // it upgrades (Session::upgraded()).
    if (s->inTunnel() && pick(*s)) chosen.push_back(s);
  }
  // Evenly: the i-th of n closes i/n of the way through the window, so the
  // clients' reconnects arrive as a trickle, not a stampede.
  const std::uint64_t now = loop_.now();
  const std::size_t n = chosen.size();
  for (std::size_t i = 0; i < n; ++i) chosen[i]->drainAt(now + windowMs * i / n, why);
  return n;
}

void ProxyWorker::shutdownOver(std::uint64_t windowMs) {
  if (stopping_ || shuttingDown_) return;
  shuttingDown_ = true;
  shutdownEndsMs_ = std::max<std::uint64_t>(loop_.now() + windowMs, 1);
  loop_.stopListening();
  upstreams_.closeAll();
  // Keep-alive connections waiting for a request have nothing to finish.
  for (Session* s = head_; s;) {
    Session* next = s->next;
    s->closeIfIdle();
    s = next;
  }
  spread([](Session& s) { return s.draining() != Tunnel::Drain::kShutdown; },
         Tunnel::Drain::kShutdown, windowMs);
  if (sessions_ == 0) return stop();
  loop_.timers().scheduleIn(shutdownTimer_, windowMs + 1);
}

void ProxyWorker::onTimer(io::Timer&) {
  stop();
}

std::size_t ProxyWorker::drainBackend(const BackendState& backend, std::uint64_t windowMs) {
  return spread(
      [&](Session& s) {
        return s.backendState() == &backend && s.draining() == Tunnel::Drain::kNone;
      },
      Tunnel::Drain::kBackend, windowMs);
}

void ProxyWorker::undrainBackend(const BackendState& backend) {
  for (Session* s = head_; s; s = s->next) {
    if (s->backendState() == &backend && s->draining() == Tunnel::Drain::kBackend) {
      s->drainAt(0, Tunnel::Drain::kNone);
    }
  }
}

void ProxyWorker::refuse(std::size_t listener, int fd, std::string_view why) {
  ++refused_;
  ++current_->listenerCounters[listener]->rejected[503];
  // A flood fills the table: say so once a second, not once a client.
  const std::uint64_t now = loop_.now();
  if (refusedLogged_ == 0 || now - refusedLogged_ >= 1000) {
    WSEDGE_LOG(kWarn, "refusing clients with 503: %.*s (%llu so far)", static_cast<int>(why.size()),
               why.data(), static_cast<unsigned long long>(refused_));
    refusedLogged_ = now;
  }
  if (current_->snapshot->listeners[listener].certificates) {
    loop_.refuse(fd, {});  // no plaintext answer makes sense before TLS
    return;
  }
  std::string response;
  http::writeErrorResponse(response, 503, why);
  loop_.refuse(fd, std::as_bytes(std::span(response)));
}

void ProxyWorker::onAccept(int socket, int fd) {
  const auto at = static_cast<std::size_t>(socket);
  if (stopping_ || at >= listenerOf_.size() || !listenerOf_[at]) {
    loop_.refuse(fd, {});
    return;
  }
  const std::size_t listener = *listenerOf_[at];
  const ListenerSnapshot& l = current_->snapshot->listeners[listener];
  ++current_->listenerCounters[listener]->accepted;
  // max_connections counts over every worker: take a place, or refuse. The
  // session gives it back as it ends; until there is one, every way out does.
  const auto release = [&] { l.active->fetch_sub(1, std::memory_order_relaxed); };
  if (l.active->fetch_add(1, std::memory_order_relaxed) >= l.maxConnections &&
      l.maxConnections != 0) {
    release();
    return refuse(listener, fd, "this listener is at its connection limit");
  }
  transport::ConnectionPtr conn = net_.adopt(fd);
  if (!conn) {
    release();
    ++tableFull_;
    return refuse(listener, fd, "the proxy has no room for another connection");
  }
  if (tls::ServerContext* tls = current_->tls[listener].get()) {
    bssl::UniquePtr<SSL> ssl = tls->newSsl();
    if (!ssl) {
      WSEDGE_LOG(kError, "cannot create a TLS session for a new connection");
      release();
      transport::close(conn, false);
      return;
    }
    conn = transport::secure(std::move(conn), std::move(ssl), loop_.chunkPool());
  }
  auto* s = new Session(ctx_, current_, listener, std::move(conn));
  s->next = head_;
  if (head_) head_->prev = s;
  head_ = s;
  ++sessions_;
}

void ProxyWorker::account(Session& session, const SessionRecord& r, bool ended) {
  const std::string cause(causeName(r.cause));
  if (ended) ++metrics_.sessionsEnded[cause];
  telemetry::ListenerCounters& l = session.listenerCounters();
  // A keep-alive connection closed between requests has been accounted
  // for, request by request.
  if (r.idle) return;
  if (r.http) {
    ++l.httpResponses[r.status];
  } else if (r.status != 101 && r.status != 0) {
    // A connection that never asked anything (a TCP check, a scanner) is
    // not a failed handshake.
    ++l.rejected[r.status];
    ++l.handshakesFailed[cause];
  }
  const auto close = [&](const char* side, const CloseRecord& c, const char* direction) {
    if (c.code != 0) ++metrics_.closes[{side, telemetry::closeCodeLabel(c.code), direction}];
  };
  close("client", r.fromClient, "received");
  close("client", r.toClient, "sent");
  close("backend", r.fromBackend, "received");
  close("backend", r.toBackend, "sent");
  if (r.cause == Cause::kProtocolError && r.status == 101) {
    const bool client = r.endedBy == Side::kClient;
    ++metrics_.protocolErrors[{client ? "client" : "backend",
                               client ? r.toClient.code : r.toBackend.code}];
  }
  if (!accessLog_) return;
  telemetry::AccessEntry e;
  e.timeUnixMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  e.client = r.client;
  const auto text = [](std::string_view v) -> std::optional<std::string> {
    if (v.empty()) return std::nullopt;
    return std::string(v);
  };
  e.sni = text(r.sni);
  e.method = text(r.method);
  e.host = text(r.host);
  e.path = text(r.target);
  e.route = text(r.route);
  e.pool = text(r.pool);
  e.backend = text(r.backend);
  e.subprotocol = text(r.subprotocol);
  e.tlsVersion = text(r.tlsVersion);
  e.tlsCipher = text(r.tlsCipher);
  e.status = r.status;
  e.handshakeMs = r.handshakeMs;
  e.durationMs = r.durationMs;
  e.messagesFromClient = r.messagesFromClient;
  e.messagesFromBackend = r.messagesFromBackend;
  e.bytesFromClient = r.bytesFromClient;
  e.bytesFromBackend = r.bytesFromBackend;
  const auto code = [](const CloseRecord& c) -> std::optional<std::uint16_t> {
    if (c.code == 0) return std::nullopt;
    return c.code;
  };
  e.closeCodeFromClient = code(r.fromClient);
  e.closeCodeFromBackend = code(r.fromBackend);
  e.closeCodeToClient = code(r.toClient);
  e.closeCodeToBackend = code(r.toBackend);
  if (r.fromClient.code != 0) e.closeReasonFromClient = r.fromClient.reason;
  if (r.fromBackend.code != 0) e.closeReasonFromBackend = r.fromBackend.reason;
  if (r.closedFirst != Side::kNone) e.closedFirst = std::string(sideName(r.closedFirst));
  accessLog_->write(index_, telemetry::formatAccessLine(e));
}

void ProxyWorker::requestServed(Session& session, const SessionRecord& record) {
  account(session, record, false);
}

void ProxyWorker::sessionEnded(Session& session, const SessionRecord& record) {
  ++endings_[static_cast<std::size_t>(record.cause)];
  account(session, record, true);
  Session* s = &session;
  if (s->prev) {
    s->prev->next = s->next;
  } else {
    head_ = s->next;
  }
  if (s->next) s->next->prev = s->prev;
  s->prev = s->next = nullptr;
  --sessions_;
  // Its parts may still be on the stack: delete it once they have returned.
  loop_.post([s] { delete s; });
  if (shuttingDown_ && sessions_ == 0) loop_.post([this] { stop(); });
}

}  // namespace wsedge::proxy
