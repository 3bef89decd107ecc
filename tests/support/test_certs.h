// Test support: a throwaway CA and certificates made with the openssl CLI,
// in a temporary folder that lives for the test program.
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>

namespace wsedge::testing {

class TestCerts {
 public:
  /// Makes, once per process: a CA; "leaf" for localhost, 127.0.0.1 and
  /// *.wild.test; "other" for other.test; "rsa" (RSA 2048) for rsa.test;
  /// "expired" for localhost (expired a day ago); and "garbage.pem".
  static const TestCerts& get() {
    static const TestCerts certs;
    return certs;
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  TestCerts() {
    char tmpl[] = "/tmp/wsedge-certs-XXXXXX";
    dir_ = mkdtemp(tmpl);
    const std::string d = dir_;
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "
        "/CN=wsedge-test-ca"
        " -keyout " +
        d + "/ca.key -out " + d + "/ca.pem");
    leaf("leaf", "ec -pkeyopt ec_paramgen_curve:P-256", "localhost",
         "DNS:localhost,IP:127.0.0.1,DNS:*.wild.test", "2");
    leaf("other", "ec -pkeyopt ec_paramgen_curve:P-384", "other.test", "DNS:other.test", "2");
    leaf("rsa", "rsa:2048", "rsa.test", "DNS:rsa.test", "2");
    // Expired: -days -1 puts notAfter a day before now.
    leaf("expired", "ec -pkeyopt ec_paramgen_curve:P-256", "localhost", "DNS:localhost", "-1");
    std::ofstream(d + "/garbage.pem") << "this is not PEM\n";
  }

  void leaf(const std::string& name, const std::string& key, const std::string& cn,
            const std::string& san, const std::string& days) {
    const std::string d = dir_;
    run("openssl req -newkey " + key + " -nodes -subj /CN=" + cn + " -keyout " + d + "/" + name +
        ".key -out " + d + "/" + name + ".csr");
    std::ofstream(d + "/" + name + ".ext") << "subjectAltName=" << san << "\n";
    run("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + d + "/ca.pem -CAkey " + d +
        "/ca.key -CAcreateserial -days " + days + " -extfile " + d + "/" + name + ".ext -out " + d +
        "/" + name + ".pem");
  }

  static void run(const std::string& cmd) {
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) std::abort();
  }

  std::string dir_;
};

}  // namespace wsedge::testing
