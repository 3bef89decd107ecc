// One connection to Redis on a worker's (or the admin thread's) loop:
// commands out in RESP, replies in through hiredis's sans-IO reader, never
// a blocking call. Commands written before the connection is up wait for
// it. Its owner hears each reply in order, and once that the connection is
// lost (and closed), with why.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "io/loop.h"

struct redisReader;
struct redisReply;

namespace wsedge::pubsub {

class RespConnection final : private io::StreamHandler {
 public:
  /// A reply (a message) larger than this ends the connection: Redis
  /// would otherwise make the loop buffer without bound.
  static constexpr std::size_t kMaxReply = 64 << 20;

  class Owner {
   public:
    virtual void onReply(const ::redisReply& reply) = 0;
    /// The connection failed or ended; it is closed. Not called from
    /// inside a method of the connection's the owner called.
    virtual void onLost(const std::string& why) = 0;

   protected:
    ~Owner() = default;
  };

  RespConnection(io::Loop& loop, Owner& owner) : loop_(loop), owner_(owner) {}
  ~RespConnection() { close(); }
  RespConnection(const RespConnection&) = delete;
  RespConnection& operator=(const RespConnection&) = delete;

  /// Starts connecting; false (with *error) if it failed at once.
  bool open(const io::SocketAddress& address, std::string* error);
  bool isOpen() const { return static_cast<bool>(conn_); }
  /// Up: what is written now reaches Redis (before, it waits here).
  bool connected() const { return connected_; }
  void command(std::initializer_list<std::string_view> args);
  void command(std::span<const std::string> args);
  /// Closes at once, without a word to the owner.
  void close();

 private:
  void send(const char* argv[], const std::size_t lens[], int argc);
  void lose(const std::string& why);

  void onData(io::ConnId id, std::span<std::byte> data) override;
  void onReadEnd(io::ConnId id, int error) override;
  void onConnected(io::ConnId id, int error) override;
  void onDrained(io::ConnId) override {}
  void onClosed(io::ConnId id) override;

  io::Loop& loop_;
  Owner& owner_;
  io::ConnId conn_;
  bool connected_ = false;
  std::string backlog_;  // commands written before the connection is up
  redisReader* reader_ = nullptr;
};

}  // namespace wsedge::pubsub
