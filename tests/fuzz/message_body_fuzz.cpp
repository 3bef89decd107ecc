// Fuzzes body framing: the head's framing decision, then a chunked body read
// whole and split at a point the input chooses, which must agree.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/http/message_body.h"

using namespace wsedge::http;

namespace {

// What a chunked body does with the input: where it stops, how, and its data.
std::uint64_t read(std::string_view in, std::size_t cut) {
  ChunkedReader r({64, 256, 4096});  // small caps, so the fuzzer reaches them
  std::size_t used = r.feed(in.substr(0, cut));
  if (used == cut && !r.complete() && !r.failed()) used += r.feed(in.substr(cut));
  if (used > in.size()) std::abort();
  return (r.dataBytes() * 31 + used) * 17 + static_cast<std::uint64_t>(r.error()) * 3 +
         (r.complete() ? 1 : 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = in.empty() ? 0 : data[0] % (in.size() + 1);
  // A head ends the first part of the input: its framing must be coherent.
  HeadParser head;
  const std::size_t headBytes = head.feed(in);
  if (head.state() == HeadParser::State::kComplete) {
    const BodyFraming req = requestFraming(head);
    if ((req.kind == BodyFraming::Kind::kInvalid) != (req.status != 0)) std::abort();
    if (req.kind == BodyFraming::Kind::kClose) std::abort();  // never for a request
    const BodyFraming res = responseFraming(head, 200, "GET");
    if (res.kind == BodyFraming::Kind::kInvalid && res.status != 502) std::abort();
  }
  const std::string_view body =
      head.state() == HeadParser::State::kComplete ? in.substr(headBytes) : in;
  const std::size_t bodyCut = cut > in.size() - body.size() ? cut - (in.size() - body.size()) : 0;
  if (read(body, body.size()) != read(body, bodyCut)) std::abort();
  return 0;
}
