#include "tls/certificates.h"

#include <gtest/gtest.h>

#include "tests/support/test_certs.h"

namespace wsedge::tls {
namespace {

using testing::TestCerts;

std::string errorFor(const std::string& cert, const std::string& key) {
  try {
    loadCertificates({{cert, key, "w.yaml:3:7"}});
  } catch (const TlsConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Certificates, LoadsEcdsaAndRsaWithTheirNames) {
  const TestCerts& t = TestCerts::get();
  auto set = loadCertificates({{t.path("leaf.pem"), t.path("leaf.key"), "a"},
                               {t.path("other.pem"), t.path("other.key"), "b"},
                               {t.path("rsa.pem"), t.path("rsa.key"), "c"}});
  ASSERT_EQ(set->certificates.size(), 3u);
  EXPECT_TRUE(set->warnings.empty());
  const Certificate& leaf = set->certificates[0];
  EXPECT_EQ(leaf.names, (std::vector<std::string>{"localhost", "*.wild.test"}));
  EXPECT_TRUE(leaf.covers("LOCALHOST"));
  EXPECT_TRUE(leaf.covers("a.wild.test"));
  EXPECT_FALSE(leaf.covers("a.b.wild.test")) << "a wildcard covers one label";
  EXPECT_FALSE(leaf.covers("wild.test"));
  EXPECT_FALSE(leaf.covers("other.test"));
  EXPECT_TRUE(set->certificates[1].covers("other.test"));
}

TEST(Certificates, ProblemsAreOneLineNamingTheFile) {
  const TestCerts& t = TestCerts::get();
  EXPECT_EQ(errorFor(t.path("missing.pem"), t.path("leaf.key")),
            "w.yaml:3:7: cannot read certificate file '" + t.path("missing.pem") +
                "': No such file or directory");
  EXPECT_EQ(errorFor(t.path("leaf.pem"), t.path("missing.key")),
            "w.yaml:3:7: cannot read key file '" + t.path("missing.key") +
                "': No such file or directory");
  EXPECT_EQ(errorFor(t.path("garbage.pem"), t.path("leaf.key")),
            "w.yaml:3:7: '" + t.path("garbage.pem") + "' holds no PEM certificate");
  EXPECT_EQ(errorFor(t.path("leaf.pem"), t.path("garbage.pem")),
            "w.yaml:3:7: '" + t.path("garbage.pem") + "' holds no PEM private key");
  EXPECT_EQ(errorFor(t.path("leaf.pem"), t.path("other.key")),
            "w.yaml:3:7: the key in '" + t.path("other.key") +
                "' does not match the certificate in '" + t.path("leaf.pem") + "'");
}

TEST(Certificates, AnExpiredCertificateWarns) {
  const TestCerts& t = TestCerts::get();
  auto set = loadCertificates({{t.path("expired.pem"), t.path("expired.key"), "w.yaml:9:9"}});
  ASSERT_EQ(set->warnings.size(), 1u);
  EXPECT_NE(
      set->warnings[0].find("w.yaml:9:9: certificate '" + t.path("expired.pem") + "' expired on "),
      std::string::npos);
}

}  // namespace
}  // namespace wsedge::tls
