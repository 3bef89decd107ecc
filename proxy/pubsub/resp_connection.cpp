#include "proxy/pubsub/resp_connection.h"

#include <hiredis/hiredis.h>

#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace wsedge::pubsub {

bool RespConnection::open(const io::SocketAddress& address, std::string* error) {
  close();
  int e = 0;
  conn_ = loop_.connect(address, *this, &e);
  if (!conn_) {
    *error = std::string("cannot connect: ") + std::strerror(-e);
    return false;
  }
  reader_ = redisReaderCreate();
  return true;
}

void RespConnection::close() {
  if (conn_) loop_.close(conn_, false);
  conn_ = {};
  connected_ = false;
  backlog_.clear();
  if (reader_) redisReaderFree(reader_);
  reader_ = nullptr;
}

void RespConnection::lose(const std::string& why) {
  close();
  owner_.onLost(why);
}

void RespConnection::command(std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  send(argv.data(), lens.data(), static_cast<int>(argv.size()));
}

void RespConnection::command(std::span<const std::string> args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  send(argv.data(), lens.data(), static_cast<int>(argv.size()));
}

void RespConnection::send(const char* argv[], const std::size_t lens[], int argc) {
  if (!conn_) return;
  char* cmd = nullptr;
  const int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
  if (n < 0) throw std::bad_alloc();
  const std::string_view bytes(cmd, static_cast<std::size_t>(n));
  if (connected_) {
    loop_.output(conn_).write(std::as_bytes(std::span(bytes)));
    loop_.output(conn_).commit();
    loop_.flush(conn_);
  } else {
    backlog_.append(bytes);
  }
  redisFreeCommand(cmd);
}

void RespConnection::onConnected(io::ConnId id, int error) {
  if (id != conn_) return;
  if (error != 0) return lose(std::string("cannot connect: ") + std::strerror(-error));
  connected_ = true;
  if (backlog_.empty()) return;
  loop_.output(conn_).write(std::as_bytes(std::span(backlog_)));
  loop_.output(conn_).commit();
  loop_.flush(conn_);
  backlog_ = {};
}

void RespConnection::onData(io::ConnId id, std::span<std::byte> data) {
  if (id != conn_ || !reader_) return;
  if (redisReaderFeed(reader_, reinterpret_cast<const char*>(data.data()), data.size()) !=
      REDIS_OK) {
    return lose(std::string("a bad reply: ") + reader_->errstr);
  }
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
      return lose(std::string("a bad reply: ") + reader_->errstr);
    }
    if (!raw) break;
    const std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                             freeReplyObject);
    const io::ConnId before = conn_;
    owner_.onReply(*reply);
    if (conn_ != before || !reader_) return;  // the owner closed it
  }
  if (reader_->len - reader_->pos > kMaxReply) lose("a reply over 64 MiB");
}

void RespConnection::onReadEnd(io::ConnId id, int error) {
  if (id != conn_) return;
  lose(error != 0 ? std::string(std::strerror(-error)) : "Redis closed the connection");
}

void RespConnection::onClosed(io::ConnId id) {
  if (id == conn_) lose("the connection closed");
}

}  // namespace wsedge::pubsub
