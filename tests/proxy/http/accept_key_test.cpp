#include "proxy/http/accept_key.h"

#include <gtest/gtest.h>

namespace wsedge::http {
namespace {

TEST(AcceptKey, Rfc6455Sample) {
  EXPECT_EQ(computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(AcceptKey, ClientKeyValidation) {
  EXPECT_TRUE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_FALSE(isValidClientKey(""));
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZQ="));
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25jZXg="));  // 17 bytes
  EXPECT_FALSE(isValidClientKey("dGhlIHNhbXBsZSBub25j!Q=="));
}

TEST(AcceptKey, GeneratedKeysAreValidAndFresh) {
  const std::string a = generateClientKey();
  const std::string b = generateClientKey();
  EXPECT_TRUE(isValidClientKey(a));
  EXPECT_TRUE(isValidClientKey(b));
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace wsedge::http
