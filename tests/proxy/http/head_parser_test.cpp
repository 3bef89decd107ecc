#include "proxy/http/head_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wsedge::http {
namespace {

TEST(HeadParser, TrimsValuesAndFindsFieldsCaseInsensitively) {
  HeadParser p;
  const std::string head = "X 1 2\r\nA:  one \t\r\nb: two\r\nA: three\r\nEmpty:\r\n\r\nBODY";
  EXPECT_EQ(p.feed(head), head.size() - 4);
  ASSERT_EQ(p.state(), HeadParser::State::kComplete);
  EXPECT_EQ(p.startLine(), "X 1 2");
  EXPECT_EQ(p.fieldCount(), 4u);
  EXPECT_EQ(p.find("a").value_or("?"), "one");
  EXPECT_EQ(p.find("B").value_or("?"), "two");
  EXPECT_EQ(p.find("empty").value_or("?"), "");
  EXPECT_FALSE(p.find("missing").has_value());
  EXPECT_EQ(p.count("A"), 2u);
  EXPECT_EQ(p.field(2).value, "three");
  EXPECT_EQ(p.headBytes(), head.size() - 4);
}

TEST(HeadParser, ViewsSurviveInputSplitAtEveryByte) {
  const std::string head = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 10\r\n\r\n";
  for (std::size_t cut = 0; cut <= head.size(); ++cut) {
    HeadParser p;
    std::size_t used = p.feed(head.substr(0, cut));
    used += p.feed(head.substr(used));
    ASSERT_EQ(p.state(), HeadParser::State::kComplete) << cut;
    EXPECT_EQ(used, head.size());
    EXPECT_EQ(p.find("content-length").value_or(""), "10");
    EXPECT_EQ(p.startLine(), "HTTP/1.1 200 OK");
  }
}

TEST(HeadParser, ConsumesNothingAfterCompletion) {
  HeadParser p;
  p.feed("A\r\n\r\n");
  EXPECT_EQ(p.feed("more"), 0u);
}

TEST(TokenLists, ContainsTokenAndElements) {
  EXPECT_TRUE(listContainsToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(listContainsToken(" ,upgrade,", "upgrade"));
  EXPECT_FALSE(listContainsToken("upgrades", "upgrade"));
  EXPECT_FALSE(listContainsToken("", "upgrade"));
  std::vector<std::string> items;
  forEachListElement(" a , b\t,,c ", [&](std::string_view s) { items.emplace_back(s); });
  EXPECT_EQ(items, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(isToken("permessage-deflate"));
  EXPECT_FALSE(isToken("a b"));
  EXPECT_FALSE(isToken(""));
  EXPECT_TRUE(equalsIgnoreCase("WebSocket", "websocket"));
  EXPECT_FALSE(equalsIgnoreCase("websocket", "websockets"));
}

}  // namespace
}  // namespace wsedge::http
