#include "proxy/http/message_body.h"

#include <charconv>
#include <optional>

namespace wsedge::http {
namespace {

BodyFraming invalid(int status, std::string_view reason) {
  BodyFraming f;
  f.kind = BodyFraming::Kind::kInvalid;
  f.status = status;
  f.reason = reason;
  return f;
}

// What the Transfer-Encoding fields say, every line and element in order.
struct Codings {
  bool malformed = false;    // an empty list, or an element that is not a token
  bool other = false;        // a coding other than chunked
  bool chunkedLast = false;  // chunked is the final coding
  std::size_t chunked = 0;   // times chunked appears
};

Codings transferCodings(const HeadParser& head) {
  Codings c;
  for (std::size_t i = 0; i < head.fieldCount(); ++i) {
    const Field f = head.field(i);
    if (!equalsIgnoreCase(f.name, "Transfer-Encoding")) continue;
    std::size_t elements = 0;
    forEachListElement(f.value, [&](std::string_view coding) {
      ++elements;
      // Parameters (chunked;q=1) are not a bare token: nothing wsedge takes.
      if (!isToken(coding)) c.malformed = true;
      if (equalsIgnoreCase(coding, "chunked")) {
        ++c.chunked;
        c.chunkedLast = true;
      } else {
        c.other = true;
        c.chunkedLast = false;
      }
    });
    if (elements == 0) c.malformed = true;
  }
  return c;
}

// Every Content-Length line and element: one value, in plain digits.
std::optional<std::uint64_t> contentLength(const HeadParser& head, bool* differ) {
  std::optional<std::uint64_t> length;
  bool bad = false;
  for (std::size_t i = 0; i < head.fieldCount(); ++i) {
    const Field f = head.field(i);
    if (!equalsIgnoreCase(f.name, "Content-Length")) continue;
    std::size_t elements = 0;
    forEachListElement(f.value, [&](std::string_view v) {
      ++elements;
      std::uint64_t n = 0;
      const bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (!digits || ec != std::errc{} || end != v.data() + v.size()) {
        bad = true;
        return;
      }
      if (length && *length != n) *differ = true;
      length = n;
    });
    if (elements == 0) bad = true;
  }
  if (bad) return std::nullopt;
  return length;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

}  // namespace

BodyFraming requestFraming(const HeadParser& head) {
  const bool te = head.count("Transfer-Encoding") != 0;
  const bool cl = head.count("Content-Length") != 0;
  if (te && cl)
    return invalid(400, "a request may not have both Transfer-Encoding and Content-Length");
  BodyFraming f;
  if (te) {
    const Codings c = transferCodings(head);
    if (c.malformed) return invalid(400, "malformed Transfer-Encoding");
    if (c.other) return invalid(501, "the only transfer coding taken is chunked");
    if (c.chunked != 1 || !c.chunkedLast)
      return invalid(400, "chunked must be the last coding, once");
    f.kind = BodyFraming::Kind::kChunked;
    return f;
  }
  if (cl) {
    bool differ = false;
    const std::optional<std::uint64_t> n = contentLength(head, &differ);
    if (!n) return invalid(400, "Content-Length must be plain digits");
    if (differ) return invalid(400, "differing Content-Length values");
    f.kind = *n == 0 ? BodyFraming::Kind::kNone : BodyFraming::Kind::kLength;
    f.length = *n;
  }
  return f;
}

BodyFraming responseFraming(const HeadParser& head, int status, std::string_view requestMethod) {
  BodyFraming f;
  if (requestMethod == "HEAD" || (status >= 100 && status < 200) || status == 204 ||
      status == 304) {
    return f;
  }
  const bool te = head.count("Transfer-Encoding") != 0;
  const bool cl = head.count("Content-Length") != 0;
  if (te && cl)
    return invalid(502, "the backend's response has both Transfer-Encoding and Content-Length");
  if (te) {
    const Codings c = transferCodings(head);
    if (c.malformed || c.chunked > 1)
      return invalid(502, "the backend's Transfer-Encoding is malformed");
    // Chunked last frames it; otherwise the body runs to the close.
    f.kind = c.chunkedLast ? BodyFraming::Kind::kChunked : BodyFraming::Kind::kClose;
    return f;
  }
  if (cl) {
    bool differ = false;
    const std::optional<std::uint64_t> n = contentLength(head, &differ);
    if (!n || differ) return invalid(502, "the backend's Content-Length is invalid");
    f.kind = *n == 0 ? BodyFraming::Kind::kNone : BodyFraming::Kind::kLength;
    f.length = *n;
    return f;
  }
  f.kind = BodyFraming::Kind::kClose;
  return f;
}

void ChunkedReader::endSizeLine() {
  if (size_ == 0) {
    state_ = State::kTrailer;
    line_ = 0;
    colon_ = false;
    return;
  }
  left_ = size_;
  size_ = 0;
  digits_ = 0;
  state_ = State::kData;
}

std::size_t ChunkedReader::feed(std::string_view in) {
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    switch (state_) {
      case State::kDone:
      case State::kFailed:
        return i;
      case State::kSize: {
        if (const int v = hexValue(c); v >= 0) {
          if (digits_ == 16) return fail(Error::kBadSize, i);
          size_ = size_ * 16 + static_cast<std::uint64_t>(v);
          ++digits_;
          // Refused at the digit that makes it too large: a size no one
          // may send never reaches a backend that might read it wrapped.
          if (size_ > limits_.maxData - data_) return fail(Error::kTooLarge, i);
        } else if (digits_ == 0) {
          return fail(Error::kBadSize, i);
        } else if (c == ' ' || c == '\t') {
          state_ = State::kSizeSpace;
        } else if (c == ';') {
          state_ = State::kExtension;
          extension_ = 0;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          return fail(c == '\n' ? Error::kBadLineEnding : Error::kBadSize, i);
        }
        ++i;
        break;
      }
      case State::kSizeSpace:
        // Whitespace after the size only before an extension (BWS ";").
        if (c == ';') {
          state_ = State::kExtension;
          extension_ = 0;
        } else if (c != ' ' && c != '\t') {
          return fail(Error::kBadSize, i);
        }
        ++i;
        break;
      case State::kExtension:
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == '\n') {
          return fail(Error::kBadLineEnding, i);
        } else if (isControl(c)) {
          return fail(Error::kBadExtension, i);
        } else if (++extension_ > limits_.maxExtension) {
          return fail(Error::kExtensionTooLong, i);
        }
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') return fail(Error::kBadLineEnding, i);
        ++i;
        endSizeLine();
        break;
      case State::kData: {
        const auto n = static_cast<std::size_t>(
            std::min<std::uint64_t>(left_, static_cast<std::uint64_t>(in.size() - i)));
        i += n;
        left_ -= n;
        data_ += n;
        if (left_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (c != '\r') return fail(Error::kMissingDataEnd, i);
        state_ = State::kDataLf;
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') return fail(Error::kMissingDataEnd, i);
        state_ = State::kSize;
        ++i;
        break;
      case State::kTrailer:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if (c == '\n') {
          return fail(Error::kBadLineEnding, i);
        } else {
          // A field: a token, ':', a value without control characters; no
          // obs-fold (a line starting with whitespace).
          if (colon_ ? isControl(c) : (c == ':' ? line_ == 0 : !isTokenChar(c))) {
            return fail(Error::kBadTrailer, i);
          }
          if (c == ':') colon_ = true;
          ++line_;
          if (++trailers_ > limits_.maxTrailers) return fail(Error::kTrailersTooLarge, i);
        }
        ++i;
        break;
      case State::kTrailerLf:
        if (c != '\n') return fail(Error::kBadLineEnding, i);
        ++i;
        if (!endTrailerLine()) return fail(Error::kBadTrailer, i - 1);
        if (state_ == State::kDone) return i;
        break;
    }
  }
  return i;
}

bool ChunkedReader::endTrailerLine() {
  if (line_ == 0) {
    state_ = State::kDone;
    return true;
  }
  if (!colon_) return false;
  line_ = 0;
  colon_ = false;
  state_ = State::kTrailer;
  return true;
}

}  // namespace wsedge::http
