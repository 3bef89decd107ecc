#include "proxy/proxy_worker.h"

#include <unistd.h>

#include "proxy/log.h"
#include "proxy/session.h"

namespace wsedge::proxy {

ProxyWorker::ProxyWorker(io::Loop& loop, std::shared_ptr<const Runtime> runtime)
    : loop_(loop), runtime_(std::move(runtime)) {
  for (const PoolRuntime& pool : runtime_->pools) {
    std::vector<std::uint32_t> weights;
    for (const BackendRuntime& b : pool.backends) weights.push_back(b.weight);
    balancers_.push_back(makeBalancer(pool.balance, weights));
  }
}

ProxyWorker::~ProxyWorker() {
  while (head_) {
    Session* s = head_;
    head_ = s->next;
    delete s;
  }
}

void ProxyWorker::start() {
  for (const ListenerRuntime& l : runtime_->listeners) {
    const auto index = static_cast<std::size_t>(loop_.listen(l.address, *this));
    if (listeners_.size() <= index) listeners_.resize(index + 1), tls_.resize(index + 1);
    listeners_[index] = &l;
    // Each worker has contexts of its own: its own session cache, no locks.
    if (l.certificates)
      tls_[index] = std::make_unique<tls::ServerContext>(l.certificates, l.tlsOptions);
  }
}

void ProxyWorker::stop() {
  if (stopping_) return;
  stopping_ = true;
  loop_.stopListening();
  for (Session* s = head_; s;) {
    Session* next = s->next;  // shutdown never deletes synchronously
    s->shutdown();
    s = next;
  }
  loop_.quit();
}

void ProxyWorker::onAccept(int listener, int fd) {
  if (stopping_) {
    ::close(fd);
    return;
  }
  Session* s;
  try {
    const auto i = static_cast<std::size_t>(listener);
    s = new Session(*this, *listeners_[i], tls_[i].get(), fd);
  } catch (const std::exception& e) {
    WSEDGE_LOG(kError, "cannot take a new connection: %s", e.what());
    ::close(fd);
    return;
  }
  s->next = head_;
  if (head_) head_->prev = s;
  head_ = s;
  ++sessions_;
}

void ProxyWorker::sessionEnded(Session* s) {
  if (s->prev) {
    s->prev->next = s->next;
  } else {
    head_ = s->next;
  }
  if (s->next) s->next->prev = s->prev;
  --sessions_;
  delete s;
}

}  // namespace wsedge::proxy
