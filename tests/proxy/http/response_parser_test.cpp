#include "proxy/http/response_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wsedge::http {
namespace {

const std::string kKey = "dGhlIHNhbXBsZSBub25jZQ==";
const std::string kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";  // RFC 6455 §1.3
const std::string k101 =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "\r\n";

struct Offer {
  std::vector<std::string_view> protocols{"chat", "superchat"};
  std::vector<Extension> extensions;
  UpgradeOffer get() const { return {kKey, protocols, extensions}; }
};

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const std::size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

// Parses at every split point; all must agree. Returns the verdict.
ResponseVerdict verdict(const std::string& response, const Offer& offer = {}) {
  ResponseVerdict first{};
  for (std::size_t cut = 0; cut <= response.size(); ++cut) {
    UpgradeResponseParser p;
    std::size_t used = p.feed(std::string_view(response).substr(0, cut));
    if (p.state() == UpgradeResponseParser::State::kIncomplete) {
      used += p.feed(std::string_view(response).substr(used));
    }
    const ResponseVerdict v = p.state() == UpgradeResponseParser::State::kComplete
                                  ? p.verify(offer.get())
                                  : ResponseVerdict::kMalformed;
    if (cut == 0) first = v;
    EXPECT_EQ(v, first) << "cut " << cut;
  }
  return first;
}

TEST(UpgradeResponseParser, AcceptsAValid101AndLeavesFramesUnconsumed) {
  EXPECT_EQ(verdict(k101), ResponseVerdict::kAccepted);
  UpgradeResponseParser p;
  const std::string frame = "\x81\x02hi";
  EXPECT_EQ(p.feed(k101 + frame), k101.size());
  EXPECT_EQ(p.verify(Offer{}.get()), ResponseVerdict::kAccepted);
  EXPECT_EQ(p.status(), 101);
  EXPECT_EQ(p.protocol(), "chat");
}

TEST(UpgradeResponseParser, InterimAnswersBeforeTheFinalOneAreSkipped) {
  const std::string hints = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
  const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(verdict(hints + cont + k101), ResponseVerdict::kAccepted);
  UpgradeResponseParser p;
  const std::string frame = "\x81\x02hi";
  EXPECT_EQ(p.feed(hints + k101 + frame), hints.size() + k101.size());
  EXPECT_EQ(p.status(), 101);
  EXPECT_FALSE(p.head().find("Link")) << "the interim answer's fields are gone";
  EXPECT_EQ(verdict(hints + "HTTP/1.1 403 Forbidden\r\n\r\n"), ResponseVerdict::kNotUpgrade);
  std::string many;
  for (int i = 0; i < 9; ++i) many += hints;
  EXPECT_EQ(verdict(many + k101), ResponseVerdict::kMalformed) << "a few, not endless";
}

TEST(UpgradeResponseParser, Rejects101sThatDoNotCompleteTheOffer) {
  EXPECT_EQ(verdict(replace(k101, "Upgrade: websocket\r\n", "")), ResponseVerdict::kBadUpgrade);
  EXPECT_EQ(verdict(replace(k101, "Connection: Upgrade", "Connection: close")),
            ResponseVerdict::kBadConnection);
  EXPECT_EQ(verdict(replace(k101, kAccept, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
            ResponseVerdict::kBadAccept);
  EXPECT_EQ(verdict(replace(k101, "Sec-WebSocket-Accept: " + kAccept + "\r\n", "")),
            ResponseVerdict::kBadAccept);
  EXPECT_EQ(verdict(replace(k101, "Protocol: chat", "Protocol: other")),
            ResponseVerdict::kProtocolNotOffered);
  EXPECT_EQ(verdict(replace(k101, "Protocol: chat", "Protocol: chat, superchat")),
            ResponseVerdict::kProtocolNotOffered);
  Offer none;
  none.protocols.clear();
  EXPECT_EQ(verdict(k101, none), ResponseVerdict::kProtocolNotOffered);
}

TEST(UpgradeResponseParser, ExtensionsMustHaveBeenOffered) {
  const std::string withPmd = replace(
      k101, "\r\n\r\n",
      "\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\r\n");
  EXPECT_EQ(verdict(withPmd), ResponseVerdict::kExtensionNotOffered);
  Offer offer;
  ASSERT_TRUE(parseExtensions("permessage-deflate; client_max_window_bits", offer.extensions));
  EXPECT_EQ(verdict(withPmd, offer), ResponseVerdict::kAccepted);
  // Bad parameters in the answer.
  EXPECT_EQ(verdict(replace(withPmd, "=10", "=16"), offer), ResponseVerdict::kExtensionNotOffered);
  EXPECT_EQ(verdict(replace(withPmd, "server_max_window_bits=10", "client_max_window_bits"), offer),
            ResponseVerdict::kExtensionNotOffered);
  UpgradeResponseParser p;
  p.feed(withPmd);
  ASSERT_EQ(p.verify(offer.get()), ResponseVerdict::kAccepted);
  EXPECT_EQ(rsvBitsFor(p.extensions()), 0x40);
}

TEST(UpgradeResponseParser, OtherStatusesAreOrdinaryResponses) {
  const std::string forbidden =
      "HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\n";
  EXPECT_EQ(verdict(forbidden), ResponseVerdict::kNotUpgrade);
  UpgradeResponseParser p;
  EXPECT_EQ(p.feed(forbidden + "denied"), forbidden.size()) << "the body is left for relaying";
  p.verify(Offer{}.get());
  EXPECT_EQ(p.status(), 403);
  EXPECT_EQ(p.reason(), "Forbidden");
  EXPECT_EQ(verdict("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n"),
            ResponseVerdict::kNotUpgrade);
  EXPECT_EQ(verdict("HTTP/1.1 200\r\n\r\n"), ResponseVerdict::kNotUpgrade);
}

TEST(UpgradeResponseParser, MalformedHeads) {
  EXPECT_EQ(verdict("HTTP/1.1 10 Short\r\n\r\n"), ResponseVerdict::kMalformed);
  EXPECT_EQ(verdict("HTTP/2.0 101 X\r\n\r\n"), ResponseVerdict::kMalformed);
  EXPECT_EQ(verdict("SSH-2.0-OpenSSH\r\n\r\n"), ResponseVerdict::kMalformed);
  EXPECT_EQ(verdict("HTTP/1.1 100 Continue\r\n\r\n"), ResponseVerdict::kMalformed);
  EXPECT_EQ(verdict("HTTP/1.1 101 OK\nUpgrade: websocket\r\n\r\n"), ResponseVerdict::kMalformed);
}

}  // namespace
}  // namespace wsedge::http
