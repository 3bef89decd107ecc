#include "proxy/http/body_framing.h"

#include <algorithm>
#include <charconv>

namespace wsedge::http {

ResponseBody ResponseBody::forHead(const HeadParser& head) {
  ResponseBody body;
  if (auto cl = head.find("Content-Length")) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (ec == std::errc{} && end == cl->data() + cl->size()) {
      body.delimited_ = true;
      body.left_ = n;
    }
  }
  return body;
}

std::size_t ResponseBody::take(std::size_t available) {
  if (!delimited_) return available;
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(available, left_));
  left_ -= n;
  return n;
}

}  // namespace wsedge::http
