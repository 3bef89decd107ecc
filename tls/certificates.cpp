#include "tls/certificates.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace wsedge::tls {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bssl::UniquePtr<BIO> openFile(const std::string& path, const std::string& what,
                              const std::string& where) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    throw TlsConfigError(where + ": cannot read " + what + " file '" + path +
                         "': " + std::strerror(errno));
  std::string data;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  std::fclose(f);
  // BIO_new_mem_buf does not copy: keep the bytes in a BIO of our own.
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  BIO_write(bio.get(), data.data(), static_cast<int>(data.size()));
  return bio;
}

std::vector<std::string> namesOf(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (std::size_t i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_DNS) {
        const ASN1_STRING* s = gn->d.dNSName;
        names.push_back(lower({reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<std::size_t>(ASN1_STRING_length(s))}));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    char cn[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) {
      names.push_back(lower(cn));
    }
  }
  return names;
}

std::time_t notAfterOf(X509* cert) {
  // From now (null) to notAfter, in days and seconds: negative once expired.
  int days = 0, seconds = 0;
  if (ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert)) != 1) return 0;
  return std::time(nullptr) + static_cast<std::time_t>(days) * 86400 + seconds;
}

}  // namespace

std::string lastError() {
  const uint32_t e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool Certificate::covers(std::string_view host) const {
  const std::string h = lower(host);
  for (const std::string& n : names) {
    if (n == h) return true;
    // "*.example.com" covers exactly one more label: "a.example.com".
    if (n.size() > 2 && n[0] == '*' && n[1] == '.') {
      const std::size_t dot = h.find('.');
      if (dot != std::string::npos && dot > 0 && h.substr(dot) == n.substr(1)) return true;
    }
  }
  return false;
}

std::shared_ptr<const CertificateSet> loadCertificates(const std::vector<CertificateSpec>& specs) {
  auto set = std::make_shared<CertificateSet>();
  ERR_clear_error();
  for (const CertificateSpec& spec : specs) {
    Certificate c;
    c.certFile = spec.certFile;
    bssl::UniquePtr<BIO> certBio = openFile(spec.certFile, "certificate", spec.where);
    c.leaf.reset(PEM_read_bio_X509(certBio.get(), nullptr, nullptr, nullptr));
    if (!c.leaf) {
      ERR_clear_error();
      throw TlsConfigError(spec.where + ": '" + spec.certFile + "' holds no PEM certificate");
    }
    while (X509* extra = PEM_read_bio_X509(certBio.get(), nullptr, nullptr, nullptr))
      c.chain.emplace_back(extra);
    ERR_clear_error();  // the end of the file reads as an error
    bssl::UniquePtr<BIO> keyBio = openFile(spec.keyFile, "key", spec.where);
    c.key.reset(PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr));
    if (!c.key) {
      ERR_clear_error();
      throw TlsConfigError(spec.where + ": '" + spec.keyFile + "' holds no PEM private key");
    }
    if (X509_check_private_key(c.leaf.get(), c.key.get()) != 1) {
      ERR_clear_error();
      throw TlsConfigError(spec.where + ": the key in '" + spec.keyFile +
                           "' does not match the certificate in '" + spec.certFile + "'");
    }
    c.names = namesOf(c.leaf.get());
    c.notAfter = notAfterOf(c.leaf.get());
    if (c.notAfter != 0 && c.notAfter < std::time(nullptr)) {
      char date[32];
      std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&c.notAfter));
      set->warnings.push_back(spec.where + ": certificate '" + spec.certFile + "' expired on " +
                              date + "; clients will refuse it");
    }
    set->certificates.push_back(std::move(c));
  }
  return set;
}

}  // namespace wsedge::tls
