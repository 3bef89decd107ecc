#include "proxy/http/handshake_writer.h"

#include <gtest/gtest.h>

#include <vector>

#include "proxy/http/accept_key.h"
#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"

namespace wsedge::http {
namespace {

TEST(HandshakeWriter, UpgradeRequestBytesAndRoundTrip) {
  std::vector<std::string_view> protocols{"chat", "v2.json"};
  std::string out;
  writeUpgradeRequest(out, {"/feed?x=1", "example.com:8080", "dGhlIHNhbXBsZSBub25jZQ==", protocols,
                            "permessage-deflate", "Origin: https://example.com\r\n"});
  EXPECT_EQ(out,
            "GET /feed?x=1 HTTP/1.1\r\n"
            "Host: example.com:8080\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: chat, v2.json\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
            "Origin: https://example.com\r\n"
            "\r\n");
  RequestParser p;
  EXPECT_EQ(p.feed(out), out.size());
  EXPECT_EQ(p.state(), RequestParser::State::kComplete);
  EXPECT_EQ(p.protocols().size(), 2u);
}

TEST(HandshakeWriter, SwitchingProtocolsRoundTrip) {
  const std::string key = generateClientKey();
  std::string out;
  writeSwitchingProtocols(out, computeAcceptKey(key), "chat", "");
  EXPECT_EQ(out.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u);
  EXPECT_EQ(out.find("Sec-WebSocket-Extensions"), std::string::npos);
  std::vector<std::string_view> offered{"chat"};
  UpgradeResponseParser p;
  p.feed(out);
  EXPECT_EQ(p.verify({key, offered, {}}), ResponseVerdict::kAccepted);
}

TEST(HandshakeWriter, ErrorResponse) {
  std::string out;
  writeErrorResponse(out, 502, "no backend answered");
  EXPECT_EQ(out,
            "HTTP/1.1 502 Bad Gateway\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 20\r\n"
            "Connection: close\r\n"
            "\r\n"
            "no backend answered\n");
}

}  // namespace
}  // namespace wsedge::http
