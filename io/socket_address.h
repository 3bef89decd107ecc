// An IPv4 or IPv6 socket address. (Splitting "host:port" text is the
// configuration's job: see conf/units.h.)
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsedge::io {

class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(const sockaddr* sa, socklen_t len);

  /// A numeric IPv4 or IPv6 host ("127.0.0.1", "::1"); no name lookup.
  static std::optional<SocketAddress> parseNumeric(const std::string& host, std::uint16_t port);

  /// Resolves a host name with getaddrinfo. Blocking: call it at start-up or
  /// reload, never on a worker. Returns an error message on failure.
  static std::optional<SocketAddress> resolve(const std::string& host, std::uint16_t port,
                                              std::string* error);
  /// Every address the name has, each once, in a stable order. Blocking,
  /// as resolve(). Empty (with *error) on failure.
  static std::vector<SocketAddress> resolveAll(const std::string& host, std::uint16_t port,
                                               std::string* error);
  /// A numeric address needs no lookup.
  static bool isNumeric(const std::string& host) { return parseNumeric(host, 0).has_value(); }

  const sockaddr* get() const { return &storage_.any; }
  sockaddr* get() { return &storage_.any; }
  socklen_t length() const { return len_; }
  int family() const { return storage_.any.sa_family; }
  std::uint16_t port() const;
  /// "127.0.0.1:80" or "[::1]:80".
  std::string toString() const;
  /// The IP alone, as X-Forwarded-For wants it.
  std::string ipString() const;
  /// 0.0.0.0 or ::, which take a port on every address.
  bool isWildcard() const;
  /// Whether two listening sockets on these addresses would share traffic
  /// (same port, and the same address or a wildcard that covers the other).
  bool overlaps(const SocketAddress& other) const;

 private:
  // IPv4 or IPv6 only: 28 bytes, not sockaddr_storage's 128 (every
  // connection keeps its peer's address).
  union Storage {
    sockaddr any;
    sockaddr_in v4;
    sockaddr_in6 v6;
  };
  Storage storage_{};
  socklen_t len_ = 0;
};

}  // namespace wsedge::io
