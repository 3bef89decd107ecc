#include "proxy/http/request_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/http/handshake_writer.h"

namespace wsedge::http {
namespace {

// RFC 6455 §1.3, with a pipelined frame after the head.
const std::string kValid =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

struct Result {
  RequestParser::State state;
  Rejection rejection;
  std::size_t consumed;
};

// Feeds input in two pieces split at cut, the way a socket would deliver it:
// what the parser does not consume of the first piece is offered again.
Result parseSplit(const std::string& input, std::size_t cut, RequestParser& p, HeadLimits = {}) {
  std::size_t used = p.feed(std::string_view(input).substr(0, cut));
  if (p.state() == RequestParser::State::kIncomplete) {
    used += p.feed(std::string_view(input).substr(used));
  }
  return {p.state(), p.rejection(), used};
}

// The outcome at every split point, checked to be the same everywhere.
Result parseEverySplit(const std::string& input, HeadLimits limits = {}) {
  RequestParser whole(limits);
  const Result expected = parseSplit(input, input.size(), whole);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    RequestParser p(limits);
    const Result r = parseSplit(input, cut, p);
    EXPECT_EQ(r.state, expected.state) << "cut " << cut;
    EXPECT_EQ(r.rejection, expected.rejection) << "cut " << cut;
    EXPECT_EQ(r.consumed, expected.consumed) << "cut " << cut;
  }
  // One byte at a time, like a slow client.
  RequestParser slow(limits);
  std::size_t used = 0;
  for (std::size_t i = 0; i < input.size() && slow.state() == RequestParser::State::kIncomplete;
       ++i) {
    used += slow.feed(std::string_view(input).substr(i, 1));
  }
  EXPECT_EQ(slow.rejection(), expected.rejection);
  EXPECT_EQ(used, expected.consumed);
  return expected;
}

int statusFor(const std::string& request) {
  const Result r = parseEverySplit(request);
  EXPECT_EQ(r.state, RequestParser::State::kRejected) << request;
  return describe(r.rejection).status;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const std::size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(RequestParser, AcceptsTheRfcExampleAndKeepsPipelinedBytes) {
  const std::string frame = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
  const std::string input = kValid + frame;
  const Result r = parseEverySplit(input);
  ASSERT_EQ(r.state, RequestParser::State::kComplete);
  EXPECT_EQ(r.consumed, kValid.size()) << "the pipelined frame stays with the caller";

  RequestParser p;
  p.feed(input);
  EXPECT_EQ(p.method(), "GET");
  EXPECT_EQ(p.target(), "/chat?room=1");
  EXPECT_EQ(p.path(), "/chat");
  EXPECT_EQ(p.host(), "server.example.com");
  EXPECT_EQ(p.key(), "dGhlIHNhbXBsZSBub25jZQ==");
  ASSERT_EQ(p.protocols().size(), 2u);
  EXPECT_EQ(p.protocols()[1], "superchat");
  ASSERT_EQ(p.extensions().size(), 1u);
  EXPECT_EQ(p.extensions()[0].name, "permessage-deflate");
  EXPECT_EQ(p.head().find("origin").value_or(""), "http://example.com");
}

TEST(RequestParser, TokenListsAreCaseInsensitiveAndMayBeSplit) {
  std::string r = replace(kValid, "Upgrade: websocket", "Upgrade: foo/2, WebSocket");
  r = replace(r, "Connection: Upgrade", "Connection: keep-alive\r\nConnection: , UPGRADE");
  EXPECT_EQ(parseEverySplit(r).state, RequestParser::State::kComplete);
  EXPECT_EQ(parseEverySplit(replace(kValid, "\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n")).state,
            RequestParser::State::kComplete);
}

TEST(RequestParser, RequestLineRejections) {
  EXPECT_EQ(statusFor(replace(kValid, "GET ", "POST ")), 405);
  EXPECT_EQ(statusFor(replace(kValid, "HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost")), 400);
  EXPECT_EQ(statusFor(replace(kValid, "HTTP/1.1\r\nHost", "HTTP/2.0\r\nHost")), 505);
  EXPECT_EQ(statusFor(replace(kValid, "HTTP/1.1\r\nHost", "HTTPS/1.1\r\nHost")), 400);
  EXPECT_EQ(statusFor(replace(kValid, "GET /chat?room=1", "GET  /chat")), 400);
  EXPECT_EQ(statusFor(replace(kValid, "GET /chat?room=1", "GET http://x/chat")), 400);
  EXPECT_EQ(statusFor(replace(kValid, "GET /chat?room=1",
                              "GET /ch\x7f"
                              "at")),
            400);
  EXPECT_EQ(statusFor("\r\n" + kValid), 400);
}

TEST(RequestParser, TheHttp2PrefaceGets505) {
  const Result r = parseEverySplit("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  EXPECT_EQ(r.rejection, Rejection::kHttpVersionUnsupported);
  EXPECT_EQ(describe(r.rejection).status, 505);
}

TEST(RequestParser, ConnectionMayNotNameTheFieldsTheHandshakeNeeds) {
  for (const char* named : {"Host", "sec-websocket-key", "Sec-WebSocket-Version",
                            "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"}) {
    const Result r = parseEverySplit(
        replace(kValid, "Connection: Upgrade", std::string("Connection: Upgrade, ") + named));
    EXPECT_EQ(r.rejection, Rejection::kConnectionNamesHandshakeField) << named;
    EXPECT_EQ(describe(r.rejection).status, 400);
  }
  EXPECT_EQ(
      parseEverySplit(replace(kValid, "Connection: Upgrade", "Connection: Upgrade, X-Hop")).state,
      RequestParser::State::kComplete);
}

TEST(RequestParser, HostIsANameOrAnIpLiteralWithAnOptionalPort) {
  for (const char* good : {"example.com", "example.com:8080", "127.0.0.1:1", "[::1]",
                           "[2001:db8::1]:443", "xn--bcher-kva.example", "a_b.example"}) {
    EXPECT_EQ(
        parseEverySplit(replace(kValid, "Host: server.example.com", std::string("Host: ") + good))
            .state,
        RequestParser::State::kComplete)
        << good;
  }
  for (const char* bad : {"exa mple.com", "example.com:80x", "example.com:123456", "[::1", "[::1]x",
                          ":80", "a/b", "a@b", "[zz::1]"}) {
    EXPECT_EQ(
        parseEverySplit(replace(kValid, "Host: server.example.com", std::string("Host: ") + bad))
            .rejection,
        Rejection::kBadHost)
        << bad;
  }
}

TEST(RequestParser, ThePathIsNormalisedOrRefused) {
  RequestParser p;
  p.feed(replace(kValid, "GET /chat?room=1", "GET /x/../%63hat//?room=/../1"));
  ASSERT_EQ(p.state(), RequestParser::State::kComplete);
  EXPECT_EQ(p.path(), "/chat/");
  EXPECT_EQ(p.query(), "?room=/../1");
  EXPECT_EQ(parseEverySplit(replace(kValid, "GET /chat?room=1", "GET /a%2fb")).rejection,
            Rejection::kBadPath);
  EXPECT_EQ(statusFor(replace(kValid, "GET /chat?room=1", "GET /../etc/passwd")), 400);
}

TEST(RequestParser, HostMustBePresentOnce) {
  EXPECT_EQ(statusFor(replace(kValid, "Host: server.example.com\r\n", "")), 400);
  EXPECT_EQ(statusFor(replace(kValid, "Host: server.example.com\r\n",
                              "Host: a.example\r\nHost: b.example\r\n")),
            400);
  EXPECT_EQ(statusFor(replace(kValid, "Host: server.example.com", "Host:")), 400);
}

TEST(RequestParser, UpgradeAndConnectionTokens) {
  // Without the websocket token it is a plain request (its Upgrade field
  // is hop-by-hop and goes no further).
  for (const std::string& plain : {replace(kValid, "Upgrade: websocket\r\n", ""),
                                   replace(kValid, "Upgrade: websocket", "Upgrade: websockets")}) {
    RequestParser p;
    p.feed(plain);
    ASSERT_EQ(p.state(), RequestParser::State::kComplete);
    EXPECT_FALSE(p.upgrade());
  }
  EXPECT_EQ(
      parseEverySplit(replace(kValid, "Connection: Upgrade", "Connection: upgrades")).rejection,
      Rejection::kConnectionNotUpgrade);
  EXPECT_EQ(statusFor(replace(kValid, "Connection: Upgrade", "Connection: keep-alive")), 426);
}

TEST(RequestParser, PlainRequestsTakeAnyMethodAndTheirFraming) {
  RequestParser post;
  const std::string req =
      "POST /api/items?x=1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n"
      "Expect: 100-continue\r\n\r\nhello";
  EXPECT_EQ(post.feed(req), req.size() - 5);  // the body is left to the caller
  ASSERT_EQ(post.state(), RequestParser::State::kComplete);
  EXPECT_FALSE(post.upgrade());
  EXPECT_EQ(post.method(), "POST");
  EXPECT_EQ(post.path(), "/api/items");
  EXPECT_EQ(post.framing().kind, BodyFraming::Kind::kLength);
  EXPECT_EQ(post.framing().length, 5u);
  EXPECT_TRUE(post.keepAlive());
  EXPECT_TRUE(post.expectsContinue());
  EXPECT_FALSE(post.idempotent());

  RequestParser chunked;
  chunked.feed(
      "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\n\r\n");
  ASSERT_EQ(chunked.state(), RequestParser::State::kComplete);
  EXPECT_EQ(chunked.framing().kind, BodyFraming::Kind::kChunked);
  EXPECT_FALSE(chunked.keepAlive());
  EXPECT_TRUE(chunked.idempotent());

  // HTTP/1.0: Host may be left out; the connection stays only if asked.
  RequestParser old;
  old.feed("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(old.state(), RequestParser::State::kComplete);
  EXPECT_FALSE(old.http11());
  EXPECT_FALSE(old.keepAlive());
  RequestParser oldKept;
  oldKept.feed("HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(oldKept.keepAlive());
  // 1.1 still needs its Host.
  EXPECT_EQ(statusFor("GET / HTTP/1.1\r\n\r\n"), 400);
}

TEST(RequestParser, SmugglingShapesAreRefusedWithTheirStatus) {
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\n";
  EXPECT_EQ(statusFor(head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(statusFor(head + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 400);
  EXPECT_EQ(statusFor(head + "Transfer-Encoding: xchunked\r\n\r\n"), 501);
  EXPECT_EQ(statusFor(head + "Transfer-Encoding: chunked, identity\r\n\r\n"), 501);
  EXPECT_EQ(statusFor(head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(statusFor(head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400);
  EXPECT_EQ(statusFor(head + "Content-Length: +5\r\n\r\n"), 400);
  EXPECT_EQ(statusFor("POST  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(statusFor("POST / HTTP/1.1\nHost: a\n\n"), 400);
  // Naming a framing field in Connection would strip it on the way.
  EXPECT_EQ(statusFor(head + "Connection: Content-Length\r\nContent-Length: 5\r\n\r\n"), 400);
  EXPECT_EQ(statusFor(head + "Connection: close, Transfer-Encoding\r\n\r\n"), 400);
  // HTTP/1.0 has no chunked coding.
  EXPECT_EQ(statusFor("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  // The one expectation there is, and no other.
  EXPECT_EQ(statusFor(head + "Expect: 200-ok\r\nContent-Length: 1\r\n\r\n"), 417);
  // The reason is the framing's own.
  RequestParser p;
  p.feed(head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n");
  EXPECT_EQ(p.framingReason(), "differing Content-Length values");
}

TEST(RequestParser, VersionMustBe13) {
  EXPECT_EQ(statusFor(replace(kValid, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8")),
            426);
  EXPECT_EQ(statusFor(replace(kValid, "Sec-WebSocket-Version: 13\r\n", "")), 426);
  EXPECT_EQ(statusFor(replace(kValid, "Sec-WebSocket-Version: 13",
                              "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13")),
            400);
  std::string response;
  writeRejection(response, Rejection::kUnsupportedWsVersion);
  EXPECT_NE(response.find("HTTP/1.1 426 Upgrade Required\r\n"), std::string::npos);
  EXPECT_NE(response.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
}

TEST(RequestParser, KeyMustDecodeTo16Bytes) {
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  EXPECT_EQ(statusFor(replace(kValid, key, "dGhlIHNhbXBsZSBub25jZQ")), 400);    // no padding
  EXPECT_EQ(statusFor(replace(kValid, key, "dGhlIHNhbXBsZSBub25j")), 400);      // 15 bytes
  EXPECT_EQ(statusFor(replace(kValid, key, "dGhlIHNhbXBsZSBub25jZQ*=")), 400);  // not base64
  EXPECT_EQ(statusFor(replace(kValid, key, "dGhlIHNhbXBsZSBub25jZXg=")), 400);  // 17 bytes
  EXPECT_EQ(statusFor(replace(kValid, "Sec-WebSocket-Key: " + key + "\r\n", "")), 400);
  EXPECT_EQ(statusFor(replace(kValid, "Sec-WebSocket-Key: " + key,
                              "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Key: " + key)),
            400);
}

TEST(RequestParser, NoBody) {
  EXPECT_EQ(statusFor(replace(kValid, "\r\n\r\n", "\r\nContent-Length: 5\r\n\r\n")), 400);
  EXPECT_EQ(statusFor(replace(kValid, "\r\n\r\n", "\r\nContent-Length: 0x0\r\n\r\n")), 400);
  EXPECT_EQ(statusFor(replace(kValid, "\r\n\r\n", "\r\nTransfer-Encoding: chunked\r\n\r\n")), 400);
  EXPECT_EQ(parseEverySplit(replace(kValid, "\r\n\r\n", "\r\nTransfer-Encoding: chunked\r\n\r\n"))
                .rejection,
            Rejection::kTransferEncoding);
}

TEST(RequestParser, ForbiddenBytesInTheHead) {
  EXPECT_EQ(parseEverySplit(replace(kValid, "Origin: http://example.com",
                                    "Origin: a\x01"
                                    "b"))
                .rejection,
            Rejection::kBadFieldValue);
  EXPECT_EQ(parseEverySplit(
                replace(kValid, "Origin: http://example.com", std::string("Origin: a\0b", 11)))
                .rejection,
            Rejection::kBadFieldValue);
  EXPECT_EQ(
      parseEverySplit(replace(kValid, "Origin: http://example.com", "Origin: a\rb")).rejection,
      Rejection::kBareCr);
  EXPECT_EQ(
      parseEverySplit(replace(kValid, "Origin: http://example.com\r\n", "Origin: a\n")).rejection,
      Rejection::kBareLf);
  EXPECT_EQ(
      parseEverySplit(replace(kValid, "Origin: http://example.com", "Origin: a\r\n  b")).rejection,
      Rejection::kObsFold);
  EXPECT_EQ(parseEverySplit(replace(kValid, "Origin: http", "Origin : http")).rejection,
            Rejection::kBadFieldName);
  EXPECT_EQ(parseEverySplit(replace(kValid, "Origin: http", "Or(gin: http")).rejection,
            Rejection::kBadFieldName);
  EXPECT_EQ(statusFor(replace(kValid, "Origin: http", "Origin: \x7f http")), 400);
}

TEST(RequestParser, MalformedSubprotocolsAndExtensions) {
  EXPECT_EQ(parseEverySplit(replace(kValid, "chat, superchat", "chat, super chat")).rejection,
            Rejection::kBadProtocols);
  EXPECT_EQ(parseEverySplit(replace(kValid, "; client_max_window_bits", "; =1")).rejection,
            Rejection::kBadExtensions);
}

TEST(RequestParser, CapsAreEnforcedAsBytesArrive) {
  HeadLimits limits;
  limits.maxStartLine = 64;
  limits.maxFieldBytes = 400;
  limits.maxFields = 12;
  // A request line over the cap is refused before its end arrives.
  RequestParser p(limits);
  p.feed("GET /" + std::string(100, 'a'));
  EXPECT_EQ(p.state(), RequestParser::State::kRejected);
  EXPECT_EQ(describe(p.rejection()).status, 400);
  EXPECT_EQ(p.rejection(), Rejection::kRequestLineTooLong);

  RequestParser q(limits);
  q.feed("GET / HTTP/1.1\r\nX-Big: " + std::string(500, 'b'));
  EXPECT_EQ(q.rejection(), Rejection::kFieldsTooLarge);
  EXPECT_EQ(describe(q.rejection()).status, 431);

  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 13; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  const Result r = parseEverySplit(many + "\r\n", limits);
  EXPECT_EQ(r.rejection, Rejection::kTooManyFields);
  EXPECT_EQ(describe(r.rejection).status, 431);
  // Exactly at the caps is fine.
  EXPECT_EQ(parseEverySplit(kValid, limits).state, RequestParser::State::kComplete);
}

TEST(Rejection, EveryReasonHasAStatusAndDetail) {
  for (int i = 1; i <= static_cast<int>(Rejection::kLast); ++i) {
    const RejectionInfo& info = describe(static_cast<Rejection>(i));
    EXPECT_GE(info.status, 400) << i;
    EXPECT_FALSE(info.detail.empty()) << i;
    std::string response;
    writeRejection(response, static_cast<Rejection>(i));
    EXPECT_EQ(response.rfind("HTTP/1.1 " + std::to_string(info.status) + " ", 0), 0u);
    EXPECT_NE(response.find(std::string(info.detail) + "\n"), std::string::npos);
  }
  std::string response;
  writeRejection(response, Rejection::kMethodNotAllowed);
  EXPECT_NE(response.find("\r\nAllow: GET\r\n"), std::string::npos);
}

}  // namespace
}  // namespace wsedge::http
