// How an HTTP/1.1 message's body is framed (RFC 9112 §6), decided strictly
// enough that request smuggling cannot pass, and a sans-IO reader of chunked
// bodies that checks every byte of the chunk syntax as it passes through.
//
// Requests: Transfer-Encoding with chunked as its only coding, or one
// Content-Length of plain digits, or no body. Both together, differing
// Content-Lengths, a length that is not plain digits or overflows, chunked
// twice or not last, and any other coding are refused (400, or 501 for a
// coding wsedge does not know), and the connection is to be closed.
//
// Responses: no body for HEAD, 1xx, 204 and 304; otherwise chunked, a
// Content-Length, or up to the connection's close. A response with both, or
// with a bad Content-Length, is refused (the proxy answers 502).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/http/head_parser.h"

namespace wsedge::http {

struct BodyFraming {
  enum class Kind : std::uint8_t {
    kNone,     // no body
    kLength,   // exactly `length` bytes
    kChunked,  // chunked, up to its last chunk and trailers
    kClose,    // responses only: up to the connection's close
    kInvalid,  // refused: `status` and `reason` say why
  };
  Kind kind = Kind::kNone;
  std::uint64_t length = 0;
  int status = 0;  // kInvalid: 400, 501 (requests) or 502 (responses)
  std::string_view reason;
};

/// The framing of a request's body, from its head.
BodyFraming requestFraming(const HeadParser& head);

/// The framing of a response's body, from its head, its status and the
/// method of the request it answers.
BodyFraming responseFraming(const HeadParser& head, int status, std::string_view requestMethod);

/// Reads a chunked body (RFC 9112 §7.1) as it arrives, split anywhere,
/// without changing it: it says how many bytes belong to the body and when
/// it has ended (after the last chunk, the trailers and the final CRLF).
/// Sizes are 1 to 16 hex digits, extensions at most maxExtension bytes,
/// trailers at most maxTrailers; a bare LF, a CR not before LF, a size with
/// a sign, a prefix or spaces inside it, and control characters are errors.
class ChunkedReader {
 public:
  enum class Error : std::uint8_t {
    kNone,
    kBadSize,           // not a hex digit where the size is, or a size of over 16 digits
    kExtensionTooLong,  // a chunk extension over maxExtension
    kBadExtension,      // a control character in an extension
    kBadLineEnding,     // a bare LF, or a CR not followed by LF
    kMissingDataEnd,    // the CRLF after a chunk's data is missing
    kTrailersTooLarge,  // trailers over maxTrailers
    kBadTrailer,        // a trailer line that is not a field
    kTooLarge,          // a chunk that would take the body over maxData
  };

  struct Limits {
    std::size_t maxExtension = 4096;
    std::size_t maxTrailers = 16384;
    std::uint64_t maxData = ~std::uint64_t{0};  // chunk data in all (a request's max_request_body)
  };

  ChunkedReader() = default;
  explicit ChunkedReader(Limits limits) : limits_(limits) {}

  /// Consumes bytes up to the end of the body (bytes after it are the next
  /// message's) or up to an error. Returns how many.
  std::size_t feed(std::string_view in);

  bool complete() const { return state_ == State::kDone; }
  bool failed() const { return error_ != Error::kNone; }
  Error error() const { return error_; }
  /// Bytes of chunk data so far (the body without its framing).
  std::uint64_t dataBytes() const { return data_; }

 private:
  enum class State : std::uint8_t {
    kSize,       // hex digits of a chunk size
    kSizeSpace,  // spaces or tabs after the size, before ';' or CRLF
    kExtension,  // after ';', up to CR
    kSizeLf,     // CR seen after the size line
    kData,       // chunk data
    kDataCr,     // the CR after a chunk's data
    kDataLf,     // the LF after it
    kTrailer,    // a trailer line (or the empty line that ends the body)
    kTrailerLf,  // CR seen in a trailer line
    kDone,
    kFailed,
  };

  std::size_t fail(Error e, std::size_t at) {
    error_ = e;
    state_ = State::kFailed;
    return at;
  }
  /// A size line ended: data follows, or (size 0) the trailers.
  void endSizeLine();
  /// A trailer line ended; `empty` for the line that ends the body.
  bool endTrailerLine();

  Limits limits_;
  State state_ = State::kSize;
  Error error_ = Error::kNone;
  std::uint8_t digits_ = 0;    // of the size being read
  bool colon_ = false;         // the trailer line being read has its ':'
  std::uint64_t size_ = 0;     // of the chunk being read
  std::uint64_t left_ = 0;     // of its data
  std::size_t extension_ = 0;  // bytes of the extension being read
  std::size_t line_ = 0;       // bytes of the trailer line being read
  std::size_t trailers_ = 0;   // bytes of trailers so far
  std::uint64_t data_ = 0;
};

}  // namespace wsedge::http
