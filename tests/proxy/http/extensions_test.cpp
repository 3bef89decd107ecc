#include "proxy/http/extensions.h"

#include <gtest/gtest.h>

namespace wsedge::http {
namespace {

TEST(Extensions, ParsesListsParametersAndQuotedValues) {
  std::vector<Extension> ext;
  ASSERT_TRUE(parseExtensions(
      "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\", x-foo , bar;a=b",
      ext));
  ASSERT_EQ(ext.size(), 3u);
  EXPECT_EQ(ext[0].name, "permessage-deflate");
  ASSERT_EQ(ext[0].params.size(), 2u);
  EXPECT_FALSE(ext[0].params[0].hasValue);
  EXPECT_EQ(ext[0].params[1].value, "10");
  EXPECT_EQ(ext[1].name, "x-foo");
  EXPECT_EQ(ext[2].params[0].name, "a");
  EXPECT_EQ(ext[2].params[0].value, "b");
}

TEST(Extensions, RejectsMalformedValues) {
  for (const char* bad : {"; a", "pmd;", "pmd; =1", "pmd; a=", "pmd; a=\"b c\"",
                          "pmd; a=\"unterminated", "pmd x", "pmd; a=\"b\\c\""}) {
    std::vector<Extension> ext;
    EXPECT_FALSE(parseExtensions(bad, ext)) << bad;
  }
  std::vector<Extension> ext;
  EXPECT_TRUE(parseExtensions("", ext));
  EXPECT_TRUE(ext.empty());
}

TEST(Extensions, PerMessageDeflateParameters) {
  std::vector<Extension> ext;
  ASSERT_TRUE(
      parseExtensions("permessage-deflate; server_no_context_takeover; client_max_window_bits=9; "
                      "server_max_window_bits=15",
                      ext));
  auto pmd = parsePerMessageDeflate(ext[0], false);
  ASSERT_TRUE(pmd);
  EXPECT_TRUE(pmd->serverNoContextTakeover);
  EXPECT_FALSE(pmd->clientNoContextTakeover);
  EXPECT_EQ(pmd->clientMaxWindowBits, 9);
  EXPECT_EQ(pmd->serverMaxWindowBits, 15);

  for (const char* bad :
       {"permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_no_context_takeover=1", "permessage-deflate; unknown",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover"}) {
    std::vector<Extension> e;
    ASSERT_TRUE(parseExtensions(bad, e)) << bad;
    EXPECT_FALSE(parsePerMessageDeflate(e[0], true)) << bad;
  }
  std::vector<Extension> offer;
  ASSERT_TRUE(parseExtensions("permessage-deflate; client_max_window_bits", offer));
  EXPECT_TRUE(parsePerMessageDeflate(offer[0], true));
  EXPECT_FALSE(parsePerMessageDeflate(offer[0], false)) << "a response must give the bits";
}

TEST(Extensions, RsvBits) {
  std::vector<Extension> ext;
  EXPECT_EQ(rsvBitsFor(ext), 0);
  ASSERT_TRUE(parseExtensions("x-other, Permessage-Deflate", ext));
  EXPECT_EQ(rsvBitsFor(ext), 0x40);
}

}  // namespace
}  // namespace wsedge::http
