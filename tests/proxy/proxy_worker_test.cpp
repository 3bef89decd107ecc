#include "proxy/proxy_worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "conf/loader.h"

namespace wsedge::proxy {
namespace {

int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool accepting(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::shared_ptr<const Snapshot> snapshot(std::vector<int> ports, const Snapshot* previous) {
  std::string yaml = "listeners:\n";
  for (int p : ports) {
    yaml += "  - address: 127.0.0.1:" + std::to_string(p) + "\n    routes: [ { pool: p } ]\n";
  }
  yaml += "pools: { p: { backends: [ 127.0.0.1:9 ] } }\n";
  return buildSnapshot(conf::loadConfigFromString(yaml, "t.yaml"), previous);
}

void settle(io::Loop& loop) {
  for (int i = 0; i < 20; ++i) loop.poll(1'000'000);
}

TEST(ProxyWorker, InstallingASnapshotKeepsTheSocketsOfUnchangedListeners) {
  io::Loop loop(io::Loop::Options{});
  ProxyWorker worker(loop);
  const int a = freePort(), b = freePort();
  std::string error;
  auto first = snapshot({a}, nullptr);
  ASSERT_TRUE(worker.install(first, &error)) << error;
  const int socketA = worker.listenerSocket(first->listeners[0].address);
  ASSERT_GE(socketA, 0);

  auto second = snapshot({b, a}, first.get());
  ASSERT_TRUE(worker.install(second, &error)) << error;
  EXPECT_EQ(worker.listenerSocket(second->listeners[1].address), socketA) << "same socket";
  EXPECT_NE(worker.listenerSocket(second->listeners[0].address), -1);
  EXPECT_EQ(worker.generation().snapshot->generation, 2u);
  settle(loop);
  EXPECT_TRUE(accepting(a));
  EXPECT_TRUE(accepting(b));

  auto third = snapshot({b}, second.get());
  ASSERT_TRUE(worker.install(third, &error)) << error;
  settle(loop);
  EXPECT_EQ(worker.listenerSocket(second->listeners[1].address), -1);
  EXPECT_FALSE(accepting(a)) << "a removed listener stops accepting";
  EXPECT_TRUE(accepting(b));
  worker.stop();
  settle(loop);
}

TEST(ProxyWorker, ASnapshotThatCannotBeServedChangesNothing) {
  io::Loop loop(io::Loop::Options{});
  ProxyWorker worker(loop);
  const int a = freePort();
  std::string error;
  auto first = snapshot({a}, nullptr);
  ASSERT_TRUE(worker.install(first, &error)) << error;
  // A port some other socket holds without SO_REUSEPORT.
  const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::listen(holder, 1);
  socklen_t len = sizeof addr;
  ::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len);
  const int taken = ntohs(addr.sin_port);
  const int fresh = freePort();
  auto bad = snapshot({a, fresh, taken}, first.get());
  EXPECT_FALSE(worker.install(bad, &error));
  EXPECT_NE(error.find("cannot listen on 127.0.0.1:" + std::to_string(taken)), std::string::npos)
      << error;
  EXPECT_EQ(worker.generation().snapshot, first) << "still the first snapshot";
  settle(loop);
  EXPECT_FALSE(accepting(fresh)) << "what was opened for it is closed again";
  EXPECT_TRUE(accepting(a));
  ::close(holder);
  worker.stop();
  settle(loop);
}

}  // namespace
}  // namespace wsedge::proxy
