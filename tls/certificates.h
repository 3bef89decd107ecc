// Certificates for a wss:// listener: PEM files read and checked once, at
// start-up (and by --check), then shared read-only by every worker.
#pragma once

#include <openssl/ssl.h>

#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wsedge::tls {

/// A problem with the TLS configuration: one line naming the file.
class TlsConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CertificateSpec {
  std::string certFile;  // the certificate, then its chain, in PEM
  std::string keyFile;   // its private key, in PEM
  std::string where;     // "file:line:col" of the entry, for messages
};

struct Certificate {
  bssl::UniquePtr<X509> leaf;
  std::vector<bssl::UniquePtr<X509>> chain;
  bssl::UniquePtr<EVP_PKEY> key;
  /// DNS names from the subjectAltName extension (or the CN when there is
  /// none), lower-cased; may include wildcards like "*.example.com".
  std::vector<std::string> names;
  std::string certFile;
  std::time_t notAfter = 0;

  /// Whether this certificate is valid for host (exact, or one wildcard label).
  bool covers(std::string_view host) const;
};

struct CertificateSet {
  std::vector<Certificate> certificates;  // the first is the default
  std::vector<std::string> warnings;      // e.g. an expired certificate
};

/// Reads and checks every pair: files readable, PEM, key matching its
/// certificate. Throws TlsConfigError; expired certificates only warn.
std::shared_ptr<const CertificateSet> loadCertificates(const std::vector<CertificateSpec>& specs);

/// The last BoringSSL error as text, and clears the queue.
std::string lastError();

}  // namespace wsedge::tls
