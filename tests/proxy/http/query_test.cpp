#include "proxy/http/query.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/http/request_parser.h"

namespace wsedge::http {
namespace {

std::vector<std::string> allValues(std::string_view query, std::string_view name) {
  std::vector<std::string> out;
  forEachQueryParameter(query, name, [&](const std::string& v) { out.push_back(v); });
  return out;
}

TEST(DecodeQueryComponent, DecodesEscapesAndPlus) {
  EXPECT_EQ(decodeQueryComponent("plain"), "plain");
  EXPECT_EQ(decodeQueryComponent("a%20b"), "a b");
  EXPECT_EQ(decodeQueryComponent("a+b"), "a b");
  EXPECT_EQ(decodeQueryComponent("%2B"), "+") << "an encoded plus is a plus, not a space";
  EXPECT_EQ(decodeQueryComponent("%e2%82%AC"), "\xe2\x82\xac") << "either case of hex";
  EXPECT_EQ(decodeQueryComponent("%41%42"), "AB") << "escapes back to back";
  EXPECT_EQ(decodeQueryComponent(""), "");
}

TEST(DecodeQueryComponent, RefusesMalformedEscapes) {
  EXPECT_FALSE(decodeQueryComponent("%"));
  EXPECT_FALSE(decodeQueryComponent("abc%"));
  EXPECT_FALSE(decodeQueryComponent("%4"));
  EXPECT_FALSE(decodeQueryComponent("abc%4"));
  EXPECT_FALSE(decodeQueryComponent("%zz"));
  EXPECT_FALSE(decodeQueryComponent("%4g"));
  EXPECT_FALSE(decodeQueryComponent("%g4"));
}

TEST(QueryParameter, FindsAParameterWithOrWithoutTheQuestionMark) {
  EXPECT_EQ(queryParameter("?room=lobby&user=ann", "room"), "lobby");
  EXPECT_EQ(queryParameter("?room=lobby&user=ann", "user"), "ann");
  EXPECT_EQ(queryParameter("room=lobby&user=ann", "user"), "ann");
  EXPECT_FALSE(queryParameter("?room=lobby&user=ann", "team"));
  EXPECT_FALSE(queryParameter("", "room"));
  EXPECT_FALSE(queryParameter("?", "room"));
}

TEST(QueryParameter, NamesMatchWholeAndExactly) {
  EXPECT_FALSE(queryParameter("?xroom=1", "room"));
  EXPECT_FALSE(queryParameter("?roomx=1", "room"));
  EXPECT_FALSE(queryParameter("?Room=1", "room")) << "names are case-sensitive";
  EXPECT_EQ(queryParameter("?xroom=1&room=2", "room"), "2");
}

TEST(QueryParameter, TheFirstValueWins) {
  EXPECT_EQ(queryParameter("?a=1&a=2&a=3", "a"), "1");
  EXPECT_EQ(allValues("?a=1&b=x&a=2&a=3", "a"), (std::vector<std::string>{"1", "2", "3"}));
}

TEST(QueryParameter, ValuesAreDecoded) {
  EXPECT_EQ(queryParameter("?q=hello+world", "q"), "hello world");
  EXPECT_EQ(queryParameter("?q=a%26b%3Dc", "q"), "a&b=c") << "an encoded & or = is data";
  EXPECT_EQ(queryParameter("?q=x=y", "q"), "x=y") << "only the first '=' separates";
}

TEST(QueryParameter, NamesArePercentDecodedBeforeComparing) {
  EXPECT_EQ(queryParameter("?room%20id=7", "room id"), "7");
  EXPECT_EQ(queryParameter("?room+id=7", "room id"), "7");
  EXPECT_EQ(queryParameter("?%72oom=7", "room"), "7");
}

TEST(QueryParameter, EmptyAndMissingValues) {
  EXPECT_EQ(queryParameter("?flag", "flag"), "") << "present without '=': an empty value";
  EXPECT_EQ(queryParameter("?flag=", "flag"), "");
  EXPECT_EQ(queryParameter("?a=1&&b=2&", "b"), "2") << "empty pairs are skipped";
}

TEST(QueryParameter, AMalformedPairIsSkippedNotFatal) {
  EXPECT_FALSE(queryParameter("?a=%zz", "a"));
  EXPECT_EQ(queryParameter("?a=%zz&a=ok", "a"), "ok");
  EXPECT_EQ(queryParameter("?%zz=1&a=2", "a"), "2") << "a malformed name spoils only its pair";
  EXPECT_EQ(allValues("?a=1&a=%4&a=3", "a"), (std::vector<std::string>{"1", "3"}));
}

// A request head as the proxy parses it, for its Cookie fields.
class Cookies : public ::testing::Test {
 protected:
  const HeadParser& parse(const std::string& cookieLines) {
    const std::string request =
        "GET /chat HTTP/1.1\r\n"
        "Host: example.com\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n" +
        cookieLines + "\r\n";
    parser_.feed(request);
    EXPECT_EQ(parser_.state(), RequestParser::State::kComplete) << request;
    return parser_.head();
  }

  RequestParser parser_;
};

TEST_F(Cookies, FindsACookieAmongSeveral) {
  const HeadParser& head = parse("Cookie: theme=dark; session=abc123; lang=en\r\n");
  EXPECT_EQ(cookieValue(head, "session"), "abc123");
  EXPECT_EQ(cookieValue(head, "theme"), "dark");
  EXPECT_EQ(cookieValue(head, "lang"), "en");
  EXPECT_FALSE(cookieValue(head, "user"));
}

TEST_F(Cookies, NamesMatchWholeAndCaseSensitively) {
  const HeadParser& head = parse("Cookie: xsession=1; sessionx=2; Session=3\r\n");
  EXPECT_FALSE(cookieValue(head, "session"));
  EXPECT_EQ(cookieValue(head, "Session"), "3");
}

TEST_F(Cookies, LooksInEveryCookieFieldAndTheFirstWins) {
  const HeadParser& head = parse(
      "Cookie: theme=dark\r\n"
      "cookie: session=first\r\n"
      "COOKIE: session=second\r\n");
  EXPECT_EQ(cookieValue(head, "session"), "first");
  EXPECT_EQ(cookieValue(head, "theme"), "dark");
}

TEST_F(Cookies, QuotesAreRemovedAndEscapesLeftAlone) {
  const HeadParser& head = parse("Cookie: a=\"quoted\"; b=%41; c=; d=\"\"\r\n");
  EXPECT_EQ(cookieValue(head, "a"), "quoted");
  EXPECT_EQ(cookieValue(head, "b"), "%41") << "cookie values are not percent-decoded";
  EXPECT_EQ(cookieValue(head, "c"), "");
  EXPECT_EQ(cookieValue(head, "d"), "");
}

TEST_F(Cookies, NoCookieField) {
  const HeadParser& head = parse("");
  EXPECT_FALSE(cookieValue(head, "session"));
}

TEST_F(Cookies, APairWithoutEqualsIsNotACookie) {
  const HeadParser& head = parse("Cookie: session; session=real\r\n");
  EXPECT_EQ(cookieValue(head, "session"), "real");
}

}  // namespace
}  // namespace wsedge::http
