#include "proxy/proxy_worker.h"

#include <algorithm>

#include "proxy/http/handshake_writer.h"
#include "proxy/log.h"
#include "proxy/session/session.h"
#include "proxy/transport/tls_connection.h"

namespace wsedge::proxy {

ProxyWorker::ProxyWorker(io::Loop& loop) : loop_(loop), net_(loop), ctx_{net_, masks_, *this} {}

ProxyWorker::~ProxyWorker() {
  while (head_) {
    Session* s = head_;
    head_ = s->next;
    delete s;
  }
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
    next = std::make_shared<Generation>(std::move(snapshot));
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
  return true;
}

void ProxyWorker::stop() {
  if (stopping_) return;
  stopping_ = true;
  loop_.stopListening();
  for (Session* s = head_; s;) {
    Session* next = s->next;  // an ended session is deleted later, not now
    s->shutdown();
    s = next;
  }
  loop_.quit();
}

void ProxyWorker::refuse(std::size_t listener, int fd, std::string_view why) {
  ++refused_;
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

void ProxyWorker::sessionEnded(Session& session, const SessionRecord& record) {
  ++endings_[static_cast<std::size_t>(record.cause)];
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
}

}  // namespace wsedge::proxy
