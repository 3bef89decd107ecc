#include "proxy/http/forwarding.h"

#include <gtest/gtest.h>

namespace wsedge::http {
namespace {

TEST(Forwarding, BackendRequestKeepsEndToEndFieldsAndAddsForwardedOnes) {
  const std::string in =
      "GET /chat?room=7 HTTP/1.1\r\n"
      "Host: edge.example.com\r\n"
      "Upgrade: websocket\r\n"
      "Connection: keep-alive, Upgrade, X-Secret\r\n"
      "X-Secret: dropped because Connection names it\r\n"
      "Keep-Alive: timeout=5\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: chat\r\n"
      "Sec-WebSocket-Extensions: permessage-deflate\r\n"
      "Origin: https://app.example.com\r\n"
      "Cookie: sid=42\r\n"
      "X-Forwarded-For: 203.0.113.9\r\n"
      "X-Forwarded-Proto: spoofed\r\n"
      "Forwarded: for=6.6.6.6\r\n"
      "X-Real-IP: 6.6.6.6\r\n"
      "X_Forwarded_For: 6.6.6.6\r\n"
      "\r\n";
  RequestParser req;
  req.feed(in);
  ASSERT_EQ(req.state(), RequestParser::State::kComplete);
  std::string out;
  // A peer the configuration does not trust: its claims are dropped.
  writeBackendRequest(out, req, {"10.1.2.3", "http", false});
  EXPECT_EQ(out,
            "GET /chat?room=7 HTTP/1.1\r\n"
            "Host: edge.example.com\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
            "Origin: https://app.example.com\r\n"
            "Cookie: sid=42\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "X-Forwarded-For: 10.1.2.3\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: edge.example.com\r\n"
            "\r\n");
  // A trusted proxy's X-Forwarded-For is kept, the peer appended.
  out.clear();
  writeBackendRequest(out, req, {"10.1.2.3", "http", true});
  EXPECT_EQ(out,
            "GET /chat?room=7 HTTP/1.1\r\n"
            "Host: edge.example.com\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
            "Origin: https://app.example.com\r\n"
            "Cookie: sid=42\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "X-Forwarded-For: 203.0.113.9, 10.1.2.3\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: edge.example.com\r\n"
            "\r\n");
}

TEST(Forwarding, TheBackendGetsTheNormalisedPathAndTheQueryUntouched) {
  RequestParser req;
  req.feed(
      "GET /a/../%61dmin//x/?q=/../%2F HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n");
  ASSERT_EQ(req.state(), RequestParser::State::kComplete);
  std::string out;
  writeBackendRequest(out, req, {"10.1.2.3", "http"});
  EXPECT_EQ(out.substr(0, out.find("\r\n")), "GET /admin/x/?q=/../%2F HTTP/1.1");
}

TEST(Forwarding, ClientUpgradeKeepsTheBackendsFields) {
  const std::string in =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: WebSocket\r\n"
      "Connection: upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
      "Sec-WebSocket-Protocol: chat\r\n"
      "Set-Cookie: a=b\r\n"
      "\r\n";
  UpgradeResponseParser resp;
  resp.feed(in);
  std::string out;
  writeClientUpgrade(out, resp);
  EXPECT_EQ(out,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "Set-Cookie: a=b\r\n"
            "\r\n");
}

TEST(Forwarding, APlainRequestGoesWithItsMethodAndTheLengthAsReadOnce) {
  RequestParser req;
  req.feed(
      "POST /api?x=1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 005\r\n"
      "Expect: 100-continue\r\nConnection: keep-alive\r\nTE: trailers\r\n\r\n");
  ASSERT_EQ(req.state(), RequestParser::State::kComplete);
  std::string out;
  writeBackendRequest(out, req, {"10.1.2.3", "https", false});
  EXPECT_EQ(out,
            "POST /api?x=1 HTTP/1.1\r\n"
            "Host: a.example\r\n"
            "Content-Length: 5\r\n"
            "X-Forwarded-For: 10.1.2.3\r\n"
            "X-Forwarded-Proto: https\r\n"
            "X-Forwarded-Host: a.example\r\n"
            "\r\n");
  RequestParser chunked;
  chunked.feed("PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  out.clear();
  writeBackendRequest(out, chunked, {"10.1.2.3", "http", false});
  EXPECT_NE(out.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("Content-Length"), std::string::npos) << out;
}

TEST(Forwarding, RelayedRefusalClosesTheConnection) {
  UpgradeResponseParser resp;
  resp.feed(
      "HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\nConnection: keep-alive\r\nKeep-Alive: "
      "5\r\n\r\n");
  std::string out;
  writeRelayedResponseHead(out, resp);
  EXPECT_EQ(out, "HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\nConnection: close\r\n\r\n");
}

}  // namespace
}  // namespace wsedge::http
