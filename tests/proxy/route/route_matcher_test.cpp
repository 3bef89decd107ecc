#include "proxy/route/route_matcher.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "proxy/http/request_parser.h"

namespace wsedge::proxy {
namespace {

// A client's upgrade request, parsed as the proxy parses it, seen as routing
// sees it.
class Request {
 public:
  explicit Request(const std::string& target, const std::string& host = "example.com",
                   const std::string& extraFields = "") {
    const std::string text = "GET " + target +
                             " HTTP/1.1\r\n"
                             "Host: " +
                             host +
                             "\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n" +
                             extraFields + "\r\n";
    parser_->feed(text);
    EXPECT_EQ(parser_->state(), http::RequestParser::State::kComplete) << text;
    host_ = hostName(parser_->host());
  }

  RequestView view() const {
    return {parser_->path(),  parser_->query(),     host_,
            &parser_->head(), parser_->protocols(), parser_->upgrade()};
  }

 private:
  std::string host_;
  std::unique_ptr<http::RequestParser> parser_ = std::make_unique<http::RequestParser>();
};

bool matches(const conf::RouteMatch& m, const Request& r) {
  return RouteMatcher(m).matches(r.view());
}

conf::RouteMatch prefix(std::string p) {
  conf::RouteMatch m;
  m.pathPrefix = std::move(p);
  return m;
}

conf::RouteMatch host(std::string h) {
  conf::RouteMatch m;
  m.host = std::move(h);
  return m;
}

TEST(RouteMatcher, AnEmptyMatchTakesEverything) {
  const conf::RouteMatch any;
  EXPECT_TRUE(matches(any, Request("/")));
  EXPECT_TRUE(matches(any, Request("/chat/room?x=1", "other.example:8080")));
}

TEST(RouteMatcher, UpgradeSplitsWebSocketsFromPlainRequests) {
  conf::RouteMatch ws;
  ws.upgrade = true;
  conf::RouteMatch plain;
  plain.upgrade = false;
  const Request upgrade("/chat");
  http::RequestParser get;
  get.feed("GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_EQ(get.state(), http::RequestParser::State::kComplete);
  const RequestView plainView{get.path(), get.query(), "example.com", &get.head(), {}, false};
  EXPECT_TRUE(matches(ws, upgrade));
  EXPECT_FALSE(matches(plain, upgrade));
  EXPECT_FALSE(RouteMatcher(ws).matches(plainView));
  EXPECT_TRUE(RouteMatcher(plain).matches(plainView));
  EXPECT_TRUE(RouteMatcher(conf::RouteMatch{}).matches(plainView)) << "without it, both";
}

TEST(RouteMatcher, ExactPath) {
  conf::RouteMatch m;
  m.path = "/chat";
  EXPECT_TRUE(matches(m, Request("/chat")));
  EXPECT_TRUE(matches(m, Request("/chat?room=1"))) << "the query is not part of the path";
  EXPECT_FALSE(matches(m, Request("/chat/")));
  EXPECT_FALSE(matches(m, Request("/chat/x")));
  EXPECT_FALSE(matches(m, Request("/chatty")));
  EXPECT_FALSE(matches(m, Request("/Chat"))) << "paths are case-sensitive";
  EXPECT_FALSE(matches(m, Request("/")));
}

TEST(RouteMatcher, ThePathIsMatchedNormalised) {
  conf::RouteMatch m;
  m.path = "/admin";
  EXPECT_TRUE(matches(m, Request("/public/../admin")));
  EXPECT_TRUE(matches(m, Request("/%61dmin")));
  EXPECT_TRUE(matches(m, Request("//admin")));
}

TEST(RouteMatcher, PathPrefixOnSegmentBoundaries) {
  const conf::RouteMatch m = prefix("/chat");
  EXPECT_TRUE(matches(m, Request("/chat")));
  EXPECT_TRUE(matches(m, Request("/chat/")));
  EXPECT_TRUE(matches(m, Request("/chat/x")));
  EXPECT_TRUE(matches(m, Request("/chat/x/y?z=1")));
  EXPECT_FALSE(matches(m, Request("/chatty")));
  EXPECT_FALSE(matches(m, Request("/chat.json")));
  EXPECT_FALSE(matches(m, Request("/cha")));
  EXPECT_FALSE(matches(m, Request("/")));
  EXPECT_FALSE(matches(m, Request("/x/chat")));
  EXPECT_EQ(RouteMatcher(m).pathPrefix(), "/chat");
  EXPECT_EQ(RouteMatcher(conf::RouteMatch{}).pathPrefix(), "");
}

TEST(RouteMatcher, ThePrefixSlashMatchesEveryPath) {
  const conf::RouteMatch m = prefix("/");
  EXPECT_TRUE(matches(m, Request("/")));
  EXPECT_TRUE(matches(m, Request("/chat")));
  EXPECT_TRUE(matches(m, Request("/a/b/c")));
}

TEST(RouteMatcher, PathRegexMatchesTheWholePath) {
  conf::RouteMatch m;
  m.pathRegex = "/room/[0-9]+";
  EXPECT_TRUE(matches(m, Request("/room/42")));
  EXPECT_TRUE(matches(m, Request("/room/42?x=y")));
  EXPECT_FALSE(matches(m, Request("/room/42/extra"))) << "not a search: the whole path";
  EXPECT_FALSE(matches(m, Request("/x/room/42")));
  EXPECT_FALSE(matches(m, Request("/room/")));
  EXPECT_FALSE(matches(m, Request("/room/abc")));
}

TEST(RouteMatcher, TheRegexShortcutNeverTurnsAwayAMatch) {
  // Paths are turned away by the range of what the regex can match before
  // it runs: long paths, alternatives and case folding must still match.
  const std::string longTail(200, '7');
  const struct {
    const char* regex;
    std::string path;
    bool match;
  } cases[] = {
      {"^/room/[0-9]+$", "/room/" + longTail, true},
      {"^/room/[0-9]+$", "/room/" + longTail + "x", false},
      {"(?i)/ROOM/[a-z]+", "/room/lobby", true},
      {"(?i)/ROOM/[a-z]+", "/Room/LOBBY", true},
      {"/(chat|feed)/.*", "/feed/" + longTail, true},
      {"/(chat|feed)/.*", "/chat/", true},
      {"/(chat|feed)/.*", "/game/x", false},
      {".*/end", "/a/b/c/end", true},
      {"/z+", "/" + std::string(100, 'z'), true},
  };
  for (const auto& c : cases) {
    conf::RouteMatch m;
    m.pathRegex = c.regex;
    EXPECT_EQ(matches(m, Request(c.path)), c.match) << c.regex << " " << c.path;
  }
}

TEST(RouteMatcher, ExactHostIgnoresCaseAndPort) {
  const conf::RouteMatch m = host("chat.example.com");
  EXPECT_TRUE(matches(m, Request("/", "chat.example.com")));
  EXPECT_TRUE(matches(m, Request("/", "CHAT.Example.COM")));
  EXPECT_TRUE(matches(m, Request("/", "chat.example.com:8443")));
  EXPECT_FALSE(matches(m, Request("/", "example.com")));
  EXPECT_FALSE(matches(m, Request("/", "x.chat.example.com")));
  EXPECT_FALSE(matches(m, Request("/", "chat.example.com.evil.example")));
  EXPECT_FALSE(matches(m, Request("/", "chat.example.co")));
}

TEST(RouteMatcher, TheConfiguredHostIsMatchedInAnyCase) {
  // RouteMatch::host is "exact or *.suffix, any case".
  EXPECT_TRUE(matches(host("Chat.Example.COM"), Request("/", "chat.example.com")));
  EXPECT_TRUE(matches(host("*.Example.COM"), Request("/", "chat.EXAMPLE.com")));
}

TEST(RouteMatcher, WildcardHostCoversSubdomainsOnly) {
  const conf::RouteMatch m = host("*.example.com");
  EXPECT_TRUE(matches(m, Request("/", "chat.example.com")));
  EXPECT_TRUE(matches(m, Request("/", "a.b.example.com")));
  EXPECT_TRUE(matches(m, Request("/", "Chat.EXAMPLE.com:8080")));
  EXPECT_FALSE(matches(m, Request("/", "example.com"))) << "the wildcard needs a label";
  EXPECT_FALSE(matches(m, Request("/", "example.com:443")));
  EXPECT_FALSE(matches(m, Request("/", "evilexample.com")));
  EXPECT_FALSE(matches(m, Request("/", "chat.example.com.evil.example")));
}

TEST(RouteMatcher, IPv6HostLiteral) {
  const conf::RouteMatch m = host("2001:db8::1");
  EXPECT_TRUE(matches(m, Request("/", "[2001:db8::1]")));
  EXPECT_TRUE(matches(m, Request("/", "[2001:DB8::1]:8080")));
  EXPECT_FALSE(matches(m, Request("/", "[2001:db8::2]:8080")));
}

TEST(RouteMatcher, HeadersMustAllBePresentWithTheirValues) {
  conf::RouteMatch m;
  m.headers = {{"X-Tenant", "blue"}, {"X-Version", "2"}};
  EXPECT_TRUE(matches(m, Request("/", "example.com", "X-Tenant: blue\r\nX-Version: 2\r\n")));
  EXPECT_TRUE(matches(m, Request("/", "example.com", "x-version: 2\r\nX-TENANT: blue\r\n")))
      << "names in any case and order";
  EXPECT_FALSE(matches(m, Request("/", "example.com", "X-Tenant: blue\r\n")))
      << "one of the two is missing";
  EXPECT_FALSE(matches(m, Request("/", "example.com", "X-Version: 2\r\n")));
  EXPECT_FALSE(matches(m, Request("/", "example.com", "X-Tenant: Blue\r\nX-Version: 2\r\n")))
      << "values are compared exactly";
  EXPECT_FALSE(matches(m, Request("/", "example.com", "X-Tenant: blue2\r\nX-Version: 2\r\n")));
  EXPECT_FALSE(matches(m, Request("/")));
}

TEST(RouteMatcher, AHeaderSentTwiceMatchesEitherValue) {
  conf::RouteMatch m;
  m.headers = {{"X-Tenant", "blue"}};
  EXPECT_TRUE(matches(m, Request("/", "example.com", "X-Tenant: red\r\nX-Tenant: blue\r\n")));
}

TEST(RouteMatcher, AHeaderMatchWithoutAHeadDoesNotMatch) {
  conf::RouteMatch m;
  m.headers = {{"X-Tenant", "blue"}};
  RequestView view;
  view.path = "/";
  EXPECT_FALSE(RouteMatcher(m).matches(view));
}

TEST(RouteMatcher, QueryParameters) {
  conf::RouteMatch m;
  m.queries = {{"room", "lobby"}, {"v", "2"}};
  EXPECT_TRUE(matches(m, Request("/chat?room=lobby&v=2")));
  EXPECT_TRUE(matches(m, Request("/chat?v=2&other=1&room=lobby")));
  EXPECT_TRUE(matches(m, Request("/chat?room=l%6Fbby&v=2"))) << "values are decoded";
  EXPECT_TRUE(matches(m, Request("/chat?room=hall&room=lobby&v=2")))
      << "any of a parameter's values";
  EXPECT_FALSE(matches(m, Request("/chat?room=lobby")));
  EXPECT_FALSE(matches(m, Request("/chat?room=hall&v=2")));
  EXPECT_FALSE(matches(m, Request("/chat?xroom=lobby&v=2")));
  EXPECT_FALSE(matches(m, Request("/chat")));
}

TEST(RouteMatcher, QueryValueWithSpaces) {
  conf::RouteMatch m;
  m.queries = {{"team", "red team"}};
  EXPECT_TRUE(matches(m, Request("/?team=red+team")));
  EXPECT_TRUE(matches(m, Request("/?team=red%20team")));
  EXPECT_FALSE(matches(m, Request("/?team=red")));
}

TEST(RouteMatcher, SubprotocolMustBeOffered) {
  conf::RouteMatch m;
  m.subprotocol = "chat.v2";
  EXPECT_TRUE(matches(m, Request("/", "example.com", "Sec-WebSocket-Protocol: chat.v2\r\n")));
  EXPECT_TRUE(
      matches(m, Request("/", "example.com", "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n")));
  EXPECT_TRUE(matches(m, Request("/", "example.com",
                                 "Sec-WebSocket-Protocol: chat.v1\r\n"
                                 "Sec-WebSocket-Protocol: chat.v2\r\n")))
      << "offered on a second line";
  EXPECT_FALSE(matches(m, Request("/", "example.com", "Sec-WebSocket-Protocol: chat.v1\r\n")));
  EXPECT_FALSE(matches(m, Request("/", "example.com", "Sec-WebSocket-Protocol: chat.v20\r\n")));
  EXPECT_FALSE(matches(m, Request("/")));
}

TEST(RouteMatcher, EveryConditionMustHold) {
  conf::RouteMatch m;
  m.pathPrefix = "/chat";
  m.host = "*.example.com";
  m.headers = {{"X-Tenant", "blue"}};
  m.queries = {{"v", "2"}};
  m.subprotocol = "chat.v2";
  const std::string fields = "X-Tenant: blue\r\nSec-WebSocket-Protocol: chat.v2\r\n";
  EXPECT_TRUE(matches(m, Request("/chat/room?v=2", "a.example.com", fields)));
  EXPECT_FALSE(matches(m, Request("/chatroom?v=2", "a.example.com", fields)));
  EXPECT_FALSE(matches(m, Request("/chat/room?v=2", "example.com", fields)));
  EXPECT_FALSE(matches(
      m, Request("/chat/room?v=2", "a.example.com", "Sec-WebSocket-Protocol: chat.v2\r\n")));
  EXPECT_FALSE(matches(m, Request("/chat/room?v=1", "a.example.com", fields)));
  EXPECT_FALSE(matches(m, Request("/chat/room?v=2", "a.example.com", "X-Tenant: blue\r\n")));
}

TEST(RouteMatcher, SurvivesAMove) {
  conf::RouteMatch m;
  m.pathRegex = "/room/[0-9]+";
  RouteMatcher a(m);
  RouteMatcher b(std::move(a));
  EXPECT_TRUE(b.matches(Request("/room/7").view()));
  EXPECT_FALSE(b.matches(Request("/room/x").view()));
}

TEST(PathPrefixMatches, SegmentBoundaries) {
  EXPECT_TRUE(pathPrefixMatches("/chat", "/chat"));
  EXPECT_TRUE(pathPrefixMatches("/chat", "/chat/"));
  EXPECT_TRUE(pathPrefixMatches("/chat", "/chat/x"));
  EXPECT_FALSE(pathPrefixMatches("/chat", "/chatty"));
  EXPECT_FALSE(pathPrefixMatches("/chat", "/cha"));
  EXPECT_FALSE(pathPrefixMatches("/chat", "/"));
  EXPECT_TRUE(pathPrefixMatches("/chat/", "/chat/x")) << "a prefix ending in '/' is a boundary";
  EXPECT_TRUE(pathPrefixMatches("/chat/", "/chat/"));
  EXPECT_TRUE(pathPrefixMatches("/", "/anything"));
  EXPECT_TRUE(pathPrefixMatches("/a/b", "/a/b/c"));
  EXPECT_FALSE(pathPrefixMatches("/a/b", "/a/bc"));
}

TEST(RewritePath, ReplacesThePrefix) {
  EXPECT_EQ(rewritePath("/api/x", "/api", "/v2"), "/v2/x");
  EXPECT_EQ(rewritePath("/api/x/y", "/api", "/v2"), "/v2/x/y");
  EXPECT_EQ(rewritePath("/api", "/api", "/v2"), "/v2");
  EXPECT_EQ(rewritePath("/api/", "/api", "/v2"), "/v2/");
}

TEST(RewritePath, OneSlashBetweenReplacementAndRest) {
  EXPECT_EQ(rewritePath("/api/x", "/api", "/v2/"), "/v2/x");
  EXPECT_EQ(rewritePath("/api/x", "/api", "/"), "/x");
  EXPECT_EQ(rewritePath("/api", "/api", "/"), "/");
  EXPECT_EQ(rewritePath("/api/x", "/api/", "/v2"), "/v2/x");
  EXPECT_EQ(rewritePath("/api/x", "/api/", "/v2/"), "/v2/x");
  EXPECT_EQ(rewritePath("/x", "/", "/v2"), "/v2/x");
  EXPECT_EQ(rewritePath("/x", "/", "/v2/"), "/v2/x");
}

TEST(HostName, LowerCaseWithoutThePort) {
  EXPECT_EQ(hostName("Example.COM"), "example.com");
  EXPECT_EQ(hostName("example.com:8080"), "example.com");
  EXPECT_EQ(hostName("EXAMPLE.com:443"), "example.com");
  EXPECT_EQ(hostName("10.0.0.1:80"), "10.0.0.1");
  EXPECT_EQ(hostName(""), "");
}

TEST(HostName, IPv6LiteralsLoseTheirBrackets) {
  EXPECT_EQ(hostName("[::1]"), "::1");
  EXPECT_EQ(hostName("[::1]:8080"), "::1");
  EXPECT_EQ(hostName("[2001:DB8::1]:443"), "2001:db8::1");
}

}  // namespace
}  // namespace wsedge::proxy
