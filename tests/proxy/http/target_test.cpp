#include "proxy/http/target.h"

#include <gtest/gtest.h>

namespace wsedge::http {
namespace {

std::string norm(std::string_view path) {
  return normalizePath(path).value_or("<refused>");
}

TEST(NormalizePath, DotSegmentsEscapesAndRepeatedSlashesAllBecomeOnePath) {
  EXPECT_EQ(norm("/admin"), "/admin");
  EXPECT_EQ(norm("/a/../admin"), "/admin");
  EXPECT_EQ(norm("/public/../admin"), "/admin");
  EXPECT_EQ(norm("/%61dmin"), "/admin");
  EXPECT_EQ(norm("//admin"), "/admin");
  EXPECT_EQ(norm("/a/./b//c"), "/a/b/c");
  EXPECT_EQ(norm("/a/%2e%2E/b"), "/b") << "an encoded dot is a dot";
  EXPECT_EQ(norm("/a/b/.."), "/a/");
  EXPECT_EQ(norm("/a/."), "/a/");
  EXPECT_EQ(norm("/"), "/");
  EXPECT_EQ(norm("/a/"), "/a/") << "a trailing slash stays";
  EXPECT_EQ(norm("/x%20y%7e"), "/x%20y~") << "reserved escapes stay, unreserved ones decode";
  EXPECT_EQ(norm("/x%2a"), "/x%2A") << "hex in upper case";
}

TEST(NormalizePath, WhatCouldSmuggleAPathIsRefused) {
  for (const char* bad : {"/a%2Fb", "/a%2fb", "/a%5Cb", "/a%5cb", "/a%00b", "/a\\b", "/..",
                          "/a/../..", "/%2e%2e/x", "/a%", "/a%2", "/a%zz", "relative"}) {
    EXPECT_EQ(norm(bad), "<refused>") << bad;
  }
}

}  // namespace
}  // namespace wsedge::http
