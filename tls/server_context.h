// The TLS side of a wss:// listener, one per worker: an SSL_CTX per
// certificate (each worker thus has its own session cache, with no locking
// across workers), certificate choice by SNI, ALPN http/1.1, TLS 1.2 or 1.3
// minimum, BoringSSL's default AEAD-only suites, session tickets from
// rotating keys, no 0-RTT, and no renegotiation or compression (BoringSSL
// has neither on the server side).
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tls/certificates.h"
#include "tls/ticket_keys.h"

namespace wsedge::tls {

struct ServerOptions {
  std::uint16_t minVersion = TLS1_2_VERSION;
  std::shared_ptr<TicketKeys> ticketKeys;
};

class ServerContext {
 public:
  ServerContext(std::shared_ptr<const CertificateSet> certificates, ServerOptions options);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  /// A new server-side SSL, certificate still to be chosen by SNI.
  bssl::UniquePtr<SSL> newSsl();

  /// The certificate the handshake chose (by its choiceOf()), and whether
  /// the client sent SNI.
  const Certificate& selected(std::uintptr_t choice) const;
  const Certificate& selected(const SSL* ssl) const { return selected(choiceOf(ssl)); }
  static bool usedSni(const SSL* ssl) { return choiceOf(ssl) != 0; }
  /// Which certificate SNI chose: 0 for none (no SNI, or a client SSL).
  static std::uintptr_t choiceOf(const SSL* ssl);

 private:
  static int onServerName(SSL* ssl, int* alert, void* arg);
  static int onAlpn(SSL* ssl, const std::uint8_t** out, std::uint8_t* outLen,
                    const std::uint8_t* in, unsigned inLen, void* arg);
  static int onTicketKey(SSL* ssl, std::uint8_t* name, std::uint8_t* iv, EVP_CIPHER_CTX* cipher,
                         HMAC_CTX* hmac, int encrypt);
  std::size_t lookup(std::string_view serverName) const;
  /// This worker's copies of the shared keys (see TicketKeys), refreshed
  /// once per period. Null if none can be had: no ticket is issued, or
  /// this ticket is not accepted.
  const TicketKeys::Key* issuingKey(std::uint64_t now);
  const TicketKeys::Key* keyOf(std::uint64_t period, std::uint64_t now);
  TicketKeys::Key* cache(std::uint64_t period, const TicketKeys::Key& key, std::uint64_t now);

  std::shared_ptr<const CertificateSet> certificates_;
  ServerOptions options_;
  std::vector<bssl::UniquePtr<SSL_CTX>> contexts_;  // by certificate
  std::unordered_map<std::string, std::size_t> exact_;
  std::unordered_map<std::string, std::size_t> wildcard_;  // "example.com" for "*.example.com"
  // The keys of the current and the previous rotation period.
  std::uint64_t period_[2] = {~std::uint64_t{0}, ~std::uint64_t{0}};
  TicketKeys::Key keys_[2]{};
};

/// The client side, for wsedge-bench: verify against a CA file, or not at all.
bssl::UniquePtr<SSL_CTX> makeClientContext(const std::string& caFile, bool insecure,
                                           std::string* error);

/// The newest resumable session any SSL of this client context received
/// (TLS 1.3 tickets arrive after the handshake, so SSL_get_session() never
/// holds one): borrowed, or null.
SSL_SESSION* latestSession(SSL_CTX* clientContext);
/// How many resumable sessions (tickets) this client context has received.
std::uint64_t sessionsReceived(SSL_CTX* clientContext);

/// A client SSL for host (SNI, unless host is an IP address; name check
/// when verifying).
bssl::UniquePtr<SSL> newClientSsl(SSL_CTX* ctx, const std::string& host, bool verify);

}  // namespace wsedge::tls
