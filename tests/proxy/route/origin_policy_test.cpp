#include "proxy/route/origin_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wsedge::proxy {
namespace {

TEST(OriginPolicy, WithoutEntriesEverythingIsAllowed) {
  const OriginPolicy any;
  EXPECT_FALSE(any.restricted());
  EXPECT_TRUE(any.allows("https://evil.example"));
  EXPECT_TRUE(any.allows("null"));
  EXPECT_TRUE(any.allows(std::nullopt)) << "a route without allowed_origins takes non-browsers";

  const OriginPolicy empty(std::vector<std::string>{});
  EXPECT_FALSE(empty.restricted());
  EXPECT_TRUE(empty.allows(std::nullopt));
}

TEST(OriginPolicy, AllowsExactlyTheOriginsListed) {
  const OriginPolicy p({"https://app.example.com", "https://admin.example.com"});
  EXPECT_TRUE(p.restricted());
  EXPECT_TRUE(p.allows("https://app.example.com"));
  EXPECT_TRUE(p.allows("https://admin.example.com"));
  EXPECT_FALSE(p.allows("https://evil.example"));
  EXPECT_FALSE(p.allows("https://example.com"));
  EXPECT_FALSE(p.allows("https://x.app.example.com")) << "an exact entry has no subdomains";
  EXPECT_FALSE(p.allows("https://app.example.com.evil.example"));
  EXPECT_FALSE(p.allows("https://evilapp.example.com"));
}

TEST(OriginPolicy, TheSchemeMustMatch) {
  const OriginPolicy p({"https://app.example.com"});
  EXPECT_FALSE(p.allows("http://app.example.com"));
  EXPECT_FALSE(p.allows("wss://app.example.com"));
  EXPECT_FALSE(p.allows("app.example.com")) << "no scheme: not an origin";
}

TEST(OriginPolicy, CaseOfSchemeAndHostIsIgnored) {
  const OriginPolicy p({"https://App.Example.com"});
  EXPECT_TRUE(p.allows("https://app.example.com"));
  EXPECT_TRUE(p.allows("HTTPS://APP.EXAMPLE.COM"));
  EXPECT_TRUE(p.allows("Https://aPP.example.COM"));
}

TEST(OriginPolicy, PortsMustMatch) {
  const OriginPolicy p({"http://localhost:3000", "https://app.example.com"});
  EXPECT_TRUE(p.allows("http://localhost:3000"));
  EXPECT_FALSE(p.allows("http://localhost:3001"));
  EXPECT_FALSE(p.allows("http://localhost")) << "the entry names a port";
  EXPECT_FALSE(p.allows("https://app.example.com:8443")) << "the entry names none";
}

TEST(OriginPolicy, IPv6Literals) {
  const OriginPolicy p({"http://[::1]:8080", "http://[2001:db8::1]"});
  EXPECT_TRUE(p.allows("http://[::1]:8080"));
  EXPECT_FALSE(p.allows("http://[::1]:8081"));
  EXPECT_FALSE(p.allows("http://[::1]"));
  EXPECT_TRUE(p.allows("http://[2001:DB8::1]"));
  EXPECT_FALSE(p.allows("http://[2001:db8::1]:80"));
  EXPECT_FALSE(p.allows("http://[2001:db8::2]"));
}

TEST(OriginPolicy, WildcardsCoverSubdomainsOnly) {
  const OriginPolicy p({"https://*.example.com"});
  EXPECT_TRUE(p.allows("https://app.example.com"));
  EXPECT_TRUE(p.allows("https://a.b.example.com"));
  EXPECT_TRUE(p.allows("https://APP.Example.COM"));
  EXPECT_FALSE(p.allows("https://example.com")) << "the wildcard needs a label before the dot";
  EXPECT_FALSE(p.allows("https://evilexample.com"));
  EXPECT_FALSE(p.allows("https://app.example.com.evil.example"));
  EXPECT_FALSE(p.allows("http://app.example.com")) << "the wildcard keeps its scheme";
  EXPECT_FALSE(p.allows("https://app.example.com:8443")) << "and its (absent) port";
}

TEST(OriginPolicy, WildcardWithAPort) {
  const OriginPolicy p({"HTTPS://*.Example.com:8443"});
  EXPECT_TRUE(p.allows("https://app.example.com:8443"));
  EXPECT_FALSE(p.allows("https://app.example.com"));
  EXPECT_FALSE(p.allows("https://app.example.com:443"));
}

TEST(OriginPolicy, AMissingOriginIsRefusedWhenRestricted) {
  const OriginPolicy p({"https://app.example.com"});
  EXPECT_FALSE(p.allows(std::nullopt));
  EXPECT_FALSE(p.allows(""));
}

TEST(OriginPolicy, TheNullOriginIsRefused) {
  // Sandboxed iframes and file:// pages send "null": never one of ours.
  const OriginPolicy p({"https://app.example.com", "https://*.example.com"});
  EXPECT_FALSE(p.allows("null"));
}

TEST(OriginPolicy, AnOriginWithAPathIsRefused) {
  const OriginPolicy p({"https://app.example.com", "https://*.example.com"});
  EXPECT_FALSE(p.allows("https://app.example.com/"));
  EXPECT_FALSE(p.allows("https://app.example.com/chat"));
  EXPECT_FALSE(p.allows("https://x.example.com/"));
  EXPECT_FALSE(p.allows("https://"));
  EXPECT_FALSE(p.allows("https://:443"));
}

TEST(OriginPolicy, AnyListedEntryIsEnough) {
  const OriginPolicy p({"http://localhost:3000", "https://*.example.com", "https://example.org"});
  EXPECT_TRUE(p.allows("http://localhost:3000"));
  EXPECT_TRUE(p.allows("https://chat.example.com"));
  EXPECT_TRUE(p.allows("https://example.org"));
  EXPECT_FALSE(p.allows("https://chat.example.org"));
}

}  // namespace
}  // namespace wsedge::proxy
