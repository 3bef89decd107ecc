#include "proxy/admin/admin_server.h"

#include <charconv>
#include <stdexcept>

#include "proxy/http/handshake_writer.h"
#include "proxy/http/head_parser.h"
#include "proxy/log.h"

namespace wsedge::proxy {

// One connection: requests read and answered one at a time. HTTP/1.1 keeps
// the connection (a publisher may send many) unless the client says
// Connection: close; HTTP/1.0 and any refused request close it.
class AdminServer::Exchange final : private transport::Handler, private io::TimerHandler {
 public:
  Exchange(AdminServer& server, transport::ConnectionPtr conn, std::uint64_t serial)
      : id(serial), server_(server), conn_(std::move(conn)), timer_(this) {
    conn_->setHandler(*this);
    server_.net_.timers().scheduleIn(timer_, kRequestTimeoutMs);
  }

 private:
  void onConnected(int) override {}
  void onDrained() override {}
  void onReadEnd(int) override {
    if (closed_) return;
    // A client that sent its request and shut its side still gets the answer.
    if (waiting_) {
      ended_ = true;
      return;
    }
    done(answered_);  // an answer on its way still goes
  }
  void onTimer(io::Timer&) override {
    // Between requests a quiet client is simply let go.
    if (!started_) return done(false);
    answer(error(408, "the request took too long"), false);
  }

  void onData(std::span<std::byte> data) override {
    feed(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  }

  void feed(std::string_view in) {
    do {
      if (closed_) return;
      if (waiting_) {
        // A pipelined request waits for the answer to the one before it.
        held_.append(in);
        if (held_.size() > kMaxHeld) conn_->pauseRecv();
        return;
      }
      if (answered_) next();
      started_ = true;
      if (head_.state() == http::HeadParser::State::kIncomplete) {
        in.remove_prefix(head_.feed(in));
        if (head_.state() == http::HeadParser::State::kError) {
          return answer(error(400, "malformed request head"), false);
        }
        if (head_.state() == http::HeadParser::State::kIncomplete) return;
        if (!startRequest()) return;
      }
      const std::size_t take = std::min<std::size_t>(in.size(), bodyLeft_);
      body_.append(in.substr(0, take));  // at most kMaxBody, by the Content-Length
      bodyLeft_ -= take;
      in.remove_prefix(take);
      if (bodyLeft_ != 0) return;
      respond();
    } while (!in.empty());
  }

  // Ready for the next request on this connection.
  void next() {
    head_ = http::HeadParser();
    method_ = target_ = {};
    bodyLeft_ = 0;
    body_.clear();
    answered_ = started_ = false;
    server_.net_.timers().scheduleIn(timer_, kRequestTimeoutMs);
  }

  // The head is complete: check it, and learn how much body follows.
  bool startRequest() {
    const std::string_view line = head_.startLine();
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.rfind(' ');
    const std::string_view version = line.substr(sp2 + 1);
    if (sp1 == std::string_view::npos || sp2 == sp1 ||
        (version != "HTTP/1.1" && version != "HTTP/1.0")) {
      answer(error(400, "expected METHOD TARGET HTTP/1.1"), false);
      return false;
    }
    method_ = line.substr(0, sp1);
    target_ = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (target_.empty() || target_.front() != '/') {
      answer(error(400, "the target must be a path"), false);
      return false;
    }
    if (head_.find("Transfer-Encoding")) {
      answer(error(411, "send the body with a Content-Length"), false);
      return false;
    }
    if (head_.count("Content-Length") > 1) {
      answer(error(400, "more than one Content-Length"), false);
      return false;
    }
    if (auto cl = head_.find("Content-Length")) {
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
      if (ec != std::errc{} || end != cl->data() + cl->size()) {
        answer(error(400, "Content-Length is not a number"), false);
        return false;
      }
      if (n > kMaxBody) {
        answer(error(413, "the body is over 64 KiB"), false);
        return false;
      }
      bodyLeft_ = n;
    }
    return true;
  }

  void respond() {
    waiting_ = true;
    timer_.cancel();  // the API answers in its own time (a publish: within seconds)
    AdminRequest req;
    req.method = method_;
    req.target = target_;
    if (auto a = head_.find("Authorization")) req.authorization = *a;
    if (auto t = head_.find("Content-Type")) req.contentType = *t;
    req.body = body_;
    const auto connection = head_.find("Connection");
    keep_ = head_.startLine().ends_with("HTTP/1.1") &&
            !(connection && http::listContainsToken(*connection, "close"));
    server_.dispatch(*this, req);
  }

 public:
  /// The API's answer to the request in hand.
  void replied(const AdminResponse& r) {
    if (closed_) return;  // closed while the API worked on it (its erase is on the way)
    waiting_ = false;
    answer(r, keep_ && !ended_);
    if (closed_ || held_.empty()) return;
    const std::string more = std::move(held_);
    held_.clear();
    conn_->resumeRecv();
    feed(more);
  }
  const std::uint64_t id;

 private:
  static AdminResponse error(int status, std::string_view message) {
    AdminResponse r;
    r.status = status;
    r.contentType = "text/plain; charset=utf-8";
    r.body = std::string(message) + "\n";
    return r;
  }

  void answer(const AdminResponse& r, bool keep) {
    answered_ = true;
    timer_.cancel();
    std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " +
                      std::string(http::reasonPhrase(r.status)) + "\r\n";
    out += "Content-Type: " + r.contentType + "\r\n";
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    out +=
        keep ? "Cache-Control: no-store\r\n" : "Cache-Control: no-store\r\nConnection: close\r\n";
    out += r.extraFields;
    out += "\r\n";
    if (method_ != "HEAD") out += r.body;
    io::SendQueue& q = conn_->output();
    q.write(std::as_bytes(std::span(out)));
    q.commit();
    conn_->flush();
    if (!keep) return done(true);
    // Quiet this long before its next request, the connection is let go.
    started_ = false;
    server_.net_.timers().scheduleIn(timer_, kRequestTimeoutMs);
  }

  void done(bool graceful) {
    timer_.cancel();
    closed_ = true;  // nothing more is read or answered
    transport::close(conn_, graceful);
    server_.finished(*this);
  }

  AdminServer& server_;
  transport::ConnectionPtr conn_;
  io::Timer timer_;
  http::HeadParser head_;
  std::string_view method_, target_;  // into head_
  std::uint64_t bodyLeft_ = 0;
  std::string body_;
  bool answered_ = false;
  bool started_ = false;  // bytes of the current request have arrived
  bool closed_ = false;
  bool waiting_ = false;  // for the API's answer
  bool keep_ = false;     // the connection stays after it
  bool ended_ = false;    // the client's side ended while it waited
  std::string held_;      // what the client sent behind the request in hand
};

AdminServer::AdminServer(io::Loop& loop, AdminApi& api, const io::SocketAddress& address)
    : loop_(loop), api_(api), net_(loop), redis_(loop), mailbox_(std::make_shared<Mailbox>()) {
  mailbox_->loop = &loop;
  std::string error;
  if (loop_.listen(address, *this, &error) < 0) {
    throw std::runtime_error("admin listener: " + error);
  }
  api_.useRedis(&redis_);
}

AdminServer::~AdminServer() {
  api_.useRedis(nullptr);
  std::lock_guard lock(mailbox_->mutex);
  mailbox_->loop = nullptr;  // answers that come later are dropped
}

void AdminServer::dispatch(Exchange& exchange, const AdminRequest& request) {
  // The answer may come from another thread, or after the client has gone:
  // it is handed to this loop, and to the exchange only if it is still there.
  api_.handle(request,
              [mailbox = mailbox_, this, e = &exchange, id = exchange.id](AdminResponse r) {
                std::lock_guard lock(mailbox->mutex);
                if (!mailbox->loop) return;
                mailbox->loop->post([this, e, id, r = std::move(r)] {
                  const auto it = open_.find(e);
                  if (it != open_.end() && it->first->id == id) e->replied(r);
                });
              });
}

void AdminServer::stop() {
  stopping_ = true;
  loop_.stopListening();
  open_.clear();  // closes their connections
  redis_.failAll("the proxy is stopping");
  loop_.quit();
}

void AdminServer::onAccept(int, int fd) {
  if (stopping_ || open_.size() >= kMaxConnections) {
    static constexpr std::string_view kBusy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    loop_.refuse(fd, std::as_bytes(std::span(kBusy)));
    return;
  }
  transport::ConnectionPtr conn = net_.adopt(fd);
  if (!conn) {
    loop_.refuse(fd, {});
    return;
  }
  auto exchange = std::make_unique<Exchange>(*this, std::move(conn), ++serial_);
  Exchange* key = exchange.get();
  open_.emplace(key, std::move(exchange));
}

void AdminServer::finished(Exchange& exchange) {
  // Called from inside the exchange: delete it once its call has returned.
  loop_.post([this, e = &exchange] { open_.erase(e); });
}

}  // namespace wsedge::proxy
