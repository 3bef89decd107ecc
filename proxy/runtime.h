// The configuration made ready to serve: addresses resolved, routes bound to
// pools. Built once on the main thread (name lookups block) and shared,
// read-only, by every worker.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "io/socket_address.h"
#include "proxy/ws/frame_parser.h"
#include "tls/certificates.h"
#include "tls/server_context.h"

namespace wsedge::proxy {

struct BackendRuntime {
  std::string name;  // as written in the configuration
  io::SocketAddress address;
  std::uint32_t weight = 1;
};

struct PoolRuntime {
  std::string name;
  std::string balance;
  std::vector<BackendRuntime> backends;
};

struct RouteRuntime {
  std::string pathPrefix;
  std::size_t pool;  // index into Runtime::pools
};

struct ListenerRuntime {
  std::string name;
  io::SocketAddress address;
  std::vector<RouteRuntime> routes;
  /// wss:// when set: loaded and checked once, shared by every worker.
  std::shared_ptr<const tls::CertificateSet> certificates;
  tls::ServerOptions tlsOptions;

  /// The first route, in configuration order, whose prefix starts the path.
  const RouteRuntime* route(std::string_view path) const;
};

struct Runtime {
  conf::Config config;
  std::vector<ListenerRuntime> listeners;
  std::vector<PoolRuntime> pools;
  ws::FrameLimits frameLimits;  // from config.limits
};

/// Resolves every address and loads every certificate. Throws
/// conf::ConfigError naming file:line:col of what is wrong. Warnings (an
/// expired certificate) are appended to *warnings.
std::shared_ptr<const Runtime> buildRuntime(conf::Config config,
                                            std::vector<std::string>* warnings = nullptr);

}  // namespace wsedge::proxy
