// Body framing by RFC 9112 §6, strictly: every smuggling shape is refused,
// and a chunked body is read exactly to its end, however it is split.
#include "proxy/http/message_body.h"

#include <gtest/gtest.h>

#include <string>

namespace wsedge::http {
namespace {

HeadParser head(const std::string& fields) {
  HeadParser p;
  const std::string text = "POST /x HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n";
  EXPECT_EQ(p.feed(text), text.size());
  EXPECT_EQ(p.state(), HeadParser::State::kComplete) << fields;
  return p;
}

using Kind = BodyFraming::Kind;

TEST(RequestFraming, ChunkedContentLengthOrNothing) {
  EXPECT_EQ(requestFraming(head("")).kind, Kind::kNone);
  const BodyFraming cl = requestFraming(head("Content-Length: 12\r\n"));
  EXPECT_EQ(cl.kind, Kind::kLength);
  EXPECT_EQ(cl.length, 12u);
  EXPECT_EQ(requestFraming(head("Content-Length: 0\r\n")).kind, Kind::kNone);
  EXPECT_EQ(requestFraming(head("Transfer-Encoding: chunked\r\n")).kind, Kind::kChunked);
  EXPECT_EQ(requestFraming(head("Transfer-Encoding: CHUNKED\r\n")).kind, Kind::kChunked);
  // The same length twice is one length (RFC 9112 §6.3 lets a recipient take it).
  EXPECT_EQ(requestFraming(head("Content-Length: 5\r\nContent-Length: 5\r\n")).length, 5u);
  EXPECT_EQ(requestFraming(head("Content-Length: 5, 5\r\n")).length, 5u);
}

TEST(RequestFraming, EverySmugglingShapeIsRefused) {
  struct Case {
    const char* fields;
    int status;
  };
  const Case cases[] = {
      // CL.TE and TE.CL, including an obfuscated TE beside a CL.
      {"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", 400},
      {"Transfer-Encoding: chunked\r\nContent-Length: 6\r\n", 400},
      {"Transfer-Encoding: chunked \r\nContent-Length: 6\r\n", 400},
      // TE.TE: a coding that is not chunked, a second TE line, chunked not last.
      {"Transfer-Encoding: xchunked\r\n", 501},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", 501},
      {"Transfer-Encoding: chunked, identity\r\n", 501},
      {"Transfer-Encoding: gzip, chunked\r\n", 501},
      {"Transfer-Encoding: chunked, chunked\r\n", 400},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
      {"Transfer-Encoding: chunked;q=1\r\n", 400},
      {"Transfer-Encoding: ,\r\n", 400},
      {"Transfer-Encoding: \"chunked\"\r\n", 400},
      // Content-Length that differs or is not plain digits.
      {"Content-Length: 5\r\nContent-Length: 6\r\n", 400},
      {"Content-Length: 5, 6\r\n", 400},
      {"Content-Length: +5\r\n", 400},
      {"Content-Length: -5\r\n", 400},
      {"Content-Length: 0x5\r\n", 400},
      {"Content-Length: 5 5\r\n", 400},
      {"Content-Length: \r\n", 400},
      {"Content-Length: 99999999999999999999\r\n", 400},
  };
  for (const Case& c : cases) {
    const BodyFraming f = requestFraming(head(c.fields));
    EXPECT_EQ(f.kind, Kind::kInvalid) << c.fields;
    EXPECT_EQ(f.status, c.status) << c.fields;
    EXPECT_FALSE(f.reason.empty());
  }
}

TEST(ResponseFraming, NoBodyWhereThereIsNoneAndTheCloseOtherwise) {
  EXPECT_EQ(responseFraming(head("Content-Length: 5\r\n"), 200, "HEAD").kind, Kind::kNone);
  EXPECT_EQ(responseFraming(head("Transfer-Encoding: chunked\r\n"), 204, "GET").kind, Kind::kNone);
  EXPECT_EQ(responseFraming(head("Content-Length: 5\r\n"), 304, "GET").kind, Kind::kNone);
  EXPECT_EQ(responseFraming(head(""), 101, "GET").kind, Kind::kNone);
  EXPECT_EQ(responseFraming(head(""), 200, "GET").kind, Kind::kClose);
  EXPECT_EQ(responseFraming(head("Content-Length: 5\r\n"), 200, "GET").length, 5u);
  EXPECT_EQ(responseFraming(head("Transfer-Encoding: gzip, chunked\r\n"), 200, "GET").kind,
            Kind::kChunked);
  EXPECT_EQ(responseFraming(head("Transfer-Encoding: gzip\r\n"), 200, "GET").kind, Kind::kClose);
  for (const char* bad : {"Content-Length: 5\r\nContent-Length: 6\r\n",
                          "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                          "Content-Length: x\r\n", "Transfer-Encoding: chunked, chunked\r\n"}) {
    const BodyFraming f = responseFraming(head(bad), 200, "GET");
    EXPECT_EQ(f.kind, Kind::kInvalid) << bad;
    EXPECT_EQ(f.status, 502) << bad;
  }
}

// Feeds the text in pieces of `piece` bytes; returns what was consumed.
std::size_t feedInPieces(ChunkedReader& r, const std::string& text, std::size_t piece) {
  std::size_t used = 0;
  while (used < text.size() && !r.complete() && !r.failed()) {
    const std::size_t n = std::min(piece, text.size() - used);
    const std::size_t took = r.feed(std::string_view(text).substr(used, n));
    used += took;
    if (took < n) break;
  }
  return used;
}

TEST(ChunkedReader, ReadsToTheEndOfTheBodyHoweverItIsSplit) {
  const std::string body =
      "5\r\nhello\r\n"
      "1a;name=value;x=\"q\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
      "0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n";
  const std::string next = "GET /next HTTP/1.1\r\n";
  for (std::size_t piece = 1; piece <= body.size() + next.size(); ++piece) {
    ChunkedReader r;
    EXPECT_EQ(feedInPieces(r, body + next, piece), body.size()) << piece;
    EXPECT_TRUE(r.complete()) << piece;
    EXPECT_EQ(r.dataBytes(), 31u);
  }
  ChunkedReader empty;
  EXPECT_EQ(empty.feed("0\r\n\r\n"), 5u);
  EXPECT_TRUE(empty.complete());
  ChunkedReader upper;
  const std::string ten = "A\r\n0123456789\r\n0 ;x\r\n\r\n";
  EXPECT_EQ(upper.feed(ten), ten.size());
  EXPECT_TRUE(upper.complete());
}

TEST(ChunkedReader, MalformedChunksAreErrorsWhereTheyAre) {
  using E = ChunkedReader::Error;
  struct Case {
    std::string text;
    E error;
  };
  const Case cases[] = {
      {"0x5\r\nhello\r\n0\r\n\r\n", E::kBadSize},
      {"+5\r\nhello\r\n0\r\n\r\n", E::kBadSize},
      {" 5\r\nhello\r\n0\r\n\r\n", E::kBadSize},
      {"5 \r\nhello\r\n0\r\n\r\n", E::kBadSize},
      {"g\r\n", E::kBadSize},
      {"\r\n", E::kBadSize},
      {"10000000000000000\r\n", E::kBadSize},  // 17 digits
      {"5\nhello\r\n0\r\n\r\n", E::kBadLineEnding},
      {"5\r\nhello\n0\r\n\r\n", E::kMissingDataEnd},
      {"5\r\nhelloX\r\n", E::kMissingDataEnd},
      {"5;a\nhello", E::kBadLineEnding},
      {"5\rhello", E::kBadLineEnding},
      {"5;a\x01\r\n", E::kBadExtension},
      {"5;" + std::string(4097, 'a') + "\r\n", E::kExtensionTooLong},
      {"0\r\nX: 1\n\r\n", E::kBadLineEnding},
      {"0\r\n folded: x\r\n\r\n", E::kBadTrailer},
      {"0\r\nno colon\r\n\r\n", E::kBadTrailer},
      {"0\r\n: no name\r\n\r\n", E::kBadTrailer},
      {"0\r\nX: a\x7f\r\n\r\n", E::kBadTrailer},
      {"0\r\nX: " + std::string(16384, 'a') + "\r\n\r\n", E::kTrailersTooLarge},
  };
  for (const Case& c : cases) {
    for (std::size_t piece : {std::size_t{1}, std::size_t{3}, c.text.size()}) {
      ChunkedReader r;
      feedInPieces(r, c.text, piece);
      EXPECT_TRUE(r.failed()) << c.text << " in pieces of " << piece;
      EXPECT_EQ(r.error(), c.error) << c.text << " in pieces of " << piece;
      EXPECT_FALSE(r.complete());
    }
  }
  // 16 hex digits is the most, and still a size.
  ChunkedReader big;
  EXPECT_EQ(big.feed("FFFFFFFFFFFFFFFF\r\nabc"), 21u);
  EXPECT_FALSE(big.failed());
}

TEST(ChunkedReader, AChunkOverTheBodyCapIsRefusedAtItsSize) {
  ChunkedReader::Limits limits;
  limits.maxData = 10;
  ChunkedReader ok(limits);
  EXPECT_EQ(ok.feed("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"), 25u);
  EXPECT_TRUE(ok.complete());
  // The second chunk would make 11: refused at its digit, before its data.
  ChunkedReader over(limits);
  EXPECT_EQ(over.feed("5\r\nhello\r\n6\r\nworld!\r\n"), 10u);
  EXPECT_EQ(over.error(), ChunkedReader::Error::kTooLarge);
  // A size a 32-bit reader would wrap to 0 never passes whole.
  ChunkedReader wrap(limits);
  EXPECT_EQ(wrap.feed("100000000\r\nGET /admin HTTP/1.1\r\n"), 1u);
  EXPECT_EQ(wrap.error(), ChunkedReader::Error::kTooLarge);
}

TEST(ChunkedReader, NothingIsReadAfterTheEndOrAnError) {
  ChunkedReader r;
  EXPECT_EQ(r.feed("0\r\n\r\n0\r\n\r\n"), 5u);
  EXPECT_EQ(r.feed("0\r\n\r\n"), 0u);
  ChunkedReader bad;
  EXPECT_EQ(bad.feed("z\r\n"), 0u);
  EXPECT_EQ(bad.feed("0\r\n\r\n"), 0u);
}

}  // namespace
}  // namespace wsedge::http
