// Where the body of a response ends (RFC 9112 §6.3), for relaying one
// without looking inside it: after Content-Length bytes when the head gives a
// valid one, otherwise when the connection closes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proxy/http/head_parser.h"

namespace wsedge::http {

class ResponseBody {
 public:
  static ResponseBody forHead(const HeadParser& head);

  /// How many of `available` bytes belong to the body; counts them as seen.
  std::size_t take(std::size_t available);
  /// A body with a known length has been seen whole.
  bool complete() const { return delimited_ && left_ == 0; }
  bool delimited() const { return delimited_; }

 private:
  bool delimited_ = false;
  std::uint64_t left_ = 0;
};

}  // namespace wsedge::http
