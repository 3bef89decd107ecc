#include "tls/server_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

#include "tls/stream.h"

namespace wsedge::tls {
namespace {

// ex_data slots: the ServerContext behind each SSL_CTX, and which
// certificate an SSL chose (index + 1, so 0 means "not chosen by SNI").
int contextIndex() {
  static const int i = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return i;
}
int choiceIndex() {
  static const int i = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return i;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool isIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

constexpr std::uint8_t kAlpnHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace

ServerContext::ServerContext(std::shared_ptr<const CertificateSet> certificates,
                             ServerOptions options)
    : certificates_(std::move(certificates)), options_(std::move(options)) {
  if (!options_.ticketKeys) options_.ticketKeys = std::make_shared<TicketKeys>(3600);
  for (std::size_t i = 0; i < certificates_->certificates.size(); ++i) {
    const Certificate& c = certificates_->certificates[i];
    bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
    if (!ctx) throw std::runtime_error("SSL_CTX_new: " + lastError());
    SSL_CTX* raw = ctx.get();
    SSL_CTX_set_ex_data(raw, contextIndex(), this);
    SSL_CTX_set_min_proto_version(raw, options_.minVersion);
    SSL_CTX_set_max_proto_version(raw, TLS1_3_VERSION);
    // TLS 1.2: forward-secret key exchange and AEAD only (TLS 1.3 has
    // nothing else). No static RSA, no CBC, no SHA-1 MACs.
    if (!SSL_CTX_set_strict_cipher_list(raw, kTls12Ciphers)) {
      throw std::runtime_error("cipher list: " + lastError());
    }
    if (!SSL_CTX_use_certificate(raw, c.leaf.get()) || !SSL_CTX_use_PrivateKey(raw, c.key.get())) {
      throw std::runtime_error(c.certFile + ": " + lastError());
    }
    for (const auto& extra : c.chain) {
      // add1: the context takes its own reference.
      if (!SSL_CTX_add1_chain_cert(raw, extra.get()))
        throw std::runtime_error(c.certFile + ": " + lastError());
    }
    SSL_CTX_set_tlsext_servername_callback(raw, onServerName);
    SSL_CTX_set_tlsext_servername_arg(raw, this);
    SSL_CTX_set_alpn_select_cb(raw, onAlpn, this);
    // Tickets: stateless resumption across workers. The server-side cache
    // (per SSL_CTX, hence per worker) serves TLS 1.2 clients without them.
    SSL_CTX_set_tlsext_ticket_key_cb(raw, onTicketKey);
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_timeout(raw,
                        static_cast<std::uint32_t>(2 * options_.ticketKeys->rotationSeconds()));
    SSL_CTX_set_early_data_enabled(raw, 0);  // no 0-RTT: replayable requests
    TlsStream::captureSecrets(raw);          // TLS 1.3 records are wsedge's own
    // No SSL_MODE_RELEASE_BUFFERS: BoringSSL defines it as 0 because it always
    // frees record buffers once they are empty, so idle connections hold none.
    SSL_CTX_set_session_id_context(raw, reinterpret_cast<const std::uint8_t*>("wsedge"), 6);
    contexts_.push_back(std::move(ctx));
    for (const std::string& name : c.names) {
      if (name.size() > 2 && name[0] == '*' && name[1] == '.') {
        wildcard_.emplace(name.substr(2), i);
      } else {
        exact_.emplace(name, i);
      }
    }
  }
}

ServerContext::~ServerContext() {
  for (TicketKeys::Key& k : keys_) cleanse(k);
}

bssl::UniquePtr<SSL> ServerContext::newSsl() {
  bssl::UniquePtr<SSL> ssl(SSL_new(contexts_.front().get()));
  if (ssl) SSL_set_accept_state(ssl.get());
  return ssl;
}

std::size_t ServerContext::lookup(std::string_view serverName) const {
  const std::string name = lower(serverName);
  if (auto it = exact_.find(name); it != exact_.end()) return it->second;
  const std::size_t dot = name.find('.');
  if (dot != std::string::npos) {
    if (auto it = wildcard_.find(name.substr(dot + 1)); it != wildcard_.end()) return it->second;
  }
  return 0;  // the default certificate
}

int ServerContext::onServerName(SSL* ssl, int*, void* arg) {
  auto* self = static_cast<ServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
  const std::size_t i = self->lookup(name);
  if (i != 0) SSL_set_SSL_CTX(ssl, self->contexts_[i].get());
  SSL_set_ex_data(ssl, choiceIndex(), reinterpret_cast<void*>(i + 1));
  return SSL_TLSEXT_ERR_OK;
}

const Certificate& ServerContext::selected(std::uintptr_t choice) const {
  return certificates_->certificates[choice ? choice - 1 : 0];
}

std::uintptr_t ServerContext::choiceOf(const SSL* ssl) {
  return reinterpret_cast<std::uintptr_t>(SSL_get_ex_data(ssl, choiceIndex()));
}

int ServerContext::onAlpn(SSL*, const std::uint8_t** out, std::uint8_t* outLen,
                          const std::uint8_t* in, unsigned inLen, void*) {
  // Pick http/1.1 if offered; otherwise go on without ALPN rather than fail.
  for (unsigned i = 0; i < inLen;) {
    const std::uint8_t len = in[i];
    if (i + 1 + len > inLen) break;
    if (len == sizeof kAlpnHttp11 && std::memcmp(in + i + 1, kAlpnHttp11, len) == 0) {
      *out = in + i + 1;
      *outLen = len;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

TicketKeys::Key* ServerContext::cache(std::uint64_t period, const TicketKeys::Key& key,
                                      std::uint64_t now) {
  // Two slots; a copy older than the previous period is wiped, as the
  // shared original is.
  constexpr std::uint64_t kNone = ~std::uint64_t{0};
  for (int i = 0; i < 2; ++i) {
    if (period_[i] != kNone && period_[i] + 1 < now) {
      cleanse(keys_[i]);
      period_[i] = kNone;
    }
  }
  const int slot = period_[0] == kNone       ? 0
                   : period_[1] == kNone     ? 1
                   : period_[0] < period_[1] ? 0
                                             : 1;
  cleanse(keys_[slot]);
  period_[slot] = period;
  keys_[slot] = key;
  return &keys_[slot];
}

const TicketKeys::Key* ServerContext::issuingKey(std::uint64_t now) {
  for (int i = 0; i < 2; ++i) {
    if (period_[i] == now) return &keys_[i];
  }
  const std::optional<TicketKeys::Key> key = options_.ticketKeys->issuing(now);
  return key ? cache(now, *key, now) : nullptr;
}

const TicketKeys::Key* ServerContext::keyOf(std::uint64_t period, std::uint64_t now) {
  for (int i = 0; i < 2; ++i) {
    if (period_[i] == period) return &keys_[i];
  }
  const std::optional<TicketKeys::Key> key = options_.ticketKeys->find(period);
  return key ? cache(period, *key, now) : nullptr;
}

int ServerContext::onTicketKey(SSL* ssl, std::uint8_t* name, std::uint8_t* iv,
                               EVP_CIPHER_CTX* cipher, HMAC_CTX* hmac, int encrypt) {
  auto* self =
      static_cast<ServerContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), contextIndex()));
  const std::uint64_t now = self->options_.ticketKeys->periodNow();
  // This is a C callback inside BoringSSL: failures are return values.
  if (encrypt) {
    const TicketKeys::Key* k = self->issuingKey(now);
    if (!k) return 0;  // no ticket this time
    std::memcpy(name, k->name, sizeof k->name);
    RAND_bytes(iv, EVP_MAX_IV_LENGTH);
    if (!EVP_EncryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, k->aes, iv) ||
        !HMAC_Init_ex(hmac, k->hmac, sizeof k->hmac, EVP_sha256(), nullptr)) {
      return -1;
    }
    return 1;
  }
  // Decrypt: the current period's key, or the previous one (then ask the
  // client to take a fresh ticket). Anything older means a full handshake.
  for (std::uint64_t back = 0; back < 2 && back <= now; ++back) {
    const TicketKeys::Key* k = self->keyOf(now - back, now);
    if (!k || std::memcmp(name, k->name, sizeof k->name) != 0) continue;
    if (!HMAC_Init_ex(hmac, k->hmac, sizeof k->hmac, EVP_sha256(), nullptr) ||
        !EVP_DecryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, k->aes, iv)) {
      return -1;
    }
    return back == 0 ? 1 : 2;
  }
  return 0;
}

namespace {
// A client context keeps its newest session in an ex_data slot.
int sessionIndex() {
  static const int i = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        SSL_SESSION_free(static_cast<SSL_SESSION*>(ptr));
      });
  return i;
}

int countIndex() {
  static const int i = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::uint64_t*>(ptr);
      });
  return i;
}

int onNewSession(SSL* ssl, SSL_SESSION* session) {
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  SSL_SESSION_free(static_cast<SSL_SESSION*>(SSL_CTX_get_ex_data(ctx, sessionIndex())));
  SSL_CTX_set_ex_data(ctx, sessionIndex(), session);
  ++*static_cast<std::uint64_t*>(SSL_CTX_get_ex_data(ctx, countIndex()));
  return 1;  // we keep the reference
}
}  // namespace

std::uint64_t sessionsReceived(SSL_CTX* clientContext) {
  auto* n = static_cast<std::uint64_t*>(SSL_CTX_get_ex_data(clientContext, countIndex()));
  return n ? *n : 0;
}

SSL_SESSION* latestSession(SSL_CTX* clientContext) {
  return static_cast<SSL_SESSION*>(SSL_CTX_get_ex_data(clientContext, sessionIndex()));
}

bssl::UniquePtr<SSL_CTX> makeClientContext(const std::string& caFile, bool insecure,
                                           std::string* error) {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  static const std::uint8_t kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx.get(), onNewSession);
  SSL_CTX_set_ex_data(ctx.get(), countIndex(), new std::uint64_t(0));
  if (insecure) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  const std::string file = caFile.empty() ? "/etc/ssl/certs/ca-certificates.crt" : caFile;
  if (!SSL_CTX_load_verify_locations(ctx.get(), file.c_str(), nullptr)) {
    *error = "cannot load CA file '" + file + "': " + lastError();
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

bssl::UniquePtr<SSL> newClientSsl(SSL_CTX* ctx, const std::string& host, bool verify) {
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx));
  if (!ssl) return ssl;
  SSL_set_connect_state(ssl.get());
  if (!isIpAddress(host)) SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  if (verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    if (isIpAddress(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    }
  }
  return ssl;
}

}  // namespace wsedge::tls
