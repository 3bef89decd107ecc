#include "io/socket_address.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>

namespace wsedge::io {

SocketAddress::SocketAddress(const sockaddr* sa, socklen_t len) {
  len_ = std::min<socklen_t>(len, sizeof storage_);
  std::memcpy(&storage_, sa, len_);
}

std::optional<SocketAddress> SocketAddress::parseNumeric(const std::string& host,
                                                         std::uint16_t port) {
  sockaddr_in v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    return SocketAddress(reinterpret_cast<sockaddr*>(&v4), sizeof v4);
  }
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    return SocketAddress(reinterpret_cast<sockaddr*>(&v6), sizeof v6);
  }
  return std::nullopt;
}

namespace {

// Every address getaddrinfo gives for host:port, in its order of
// preference, each once (it lists one per protocol it knows).
std::vector<SocketAddress> lookup(const std::string& host, std::uint16_t port, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    if (error) *error = "cannot resolve '" + host + "': " + gai_strerror(rc);
    return {};
  }
  std::vector<SocketAddress> out;
  for (addrinfo* a = res; a; a = a->ai_next) {
    SocketAddress s(a->ai_addr, a->ai_addrlen);
    bool seen = false;
    for (const SocketAddress& o : out) seen = seen || o.toString() == s.toString();
    if (!seen) out.push_back(s);
  }
  freeaddrinfo(res);
  return out;
}

}  // namespace

std::optional<SocketAddress> SocketAddress::resolve(const std::string& host, std::uint16_t port,
                                                    std::string* error) {
  if (auto numeric = parseNumeric(host, port)) return numeric;
  std::vector<SocketAddress> all = lookup(host, port, error);
  if (all.empty()) return std::nullopt;
  return all.front();
}

std::vector<SocketAddress> SocketAddress::resolveAll(const std::string& host, std::uint16_t port,
                                                     std::string* error) {
  if (auto numeric = parseNumeric(host, port)) return {*numeric};
  std::vector<SocketAddress> out = lookup(host, port, error);
  // In a stable order, so that a re-resolution that finds the same set is
  // seen as unchanged.
  std::sort(out.begin(), out.end(), [](const SocketAddress& a, const SocketAddress& b) {
    return a.toString() < b.toString();
  });
  return out;
}

std::uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(storage_.v4.sin_port);
  if (family() == AF_INET6) return ntohs(storage_.v6.sin6_port);
  return 0;
}

std::string SocketAddress::ipString() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &storage_.v4.sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &storage_.v6.sin6_addr, buf, sizeof buf);
  }
  return buf;
}

std::string SocketAddress::toString() const {
  const std::string ip = ipString();
  return (family() == AF_INET6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port());
}

}  // namespace wsedge::io

namespace wsedge::io {

bool SocketAddress::isWildcard() const {
  if (family() == AF_INET) {
    return storage_.v4.sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (family() == AF_INET6) {
    const in6_addr& a = storage_.v6.sin6_addr;
    return IN6_IS_ADDR_UNSPECIFIED(&a);
  }
  return false;
}

bool SocketAddress::overlaps(const SocketAddress& other) const {
  if (port() != other.port()) return false;
  if (ipString() == other.ipString() && family() == other.family()) return true;
  // [::] takes IPv4 too (dual stack); 0.0.0.0 every IPv4 address.
  if (family() == AF_INET6 && isWildcard()) return true;
  if (other.family() == AF_INET6 && other.isWildcard()) return true;
  return family() == other.family() && (isWildcard() || other.isWildcard());
}

}  // namespace wsedge::io
