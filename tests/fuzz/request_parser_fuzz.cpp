// Fuzzes the upgrade request parser. The first byte picks a split point; the
// result fed in two pieces must equal the result fed whole.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/http/handshake_writer.h"
#include "proxy/http/request_parser.h"

using namespace wsedge::http;

namespace {
struct Outcome {
  RequestParser::State state;
  Rejection rejection;
  std::size_t used;
};

Outcome run(std::string_view in, std::size_t cut) {
  RequestParser p({1024, 2048, 32});
  std::size_t used = p.feed(in.substr(0, cut));
  if (p.state() == RequestParser::State::kIncomplete) used += p.feed(in.substr(used));
  if (p.state() == RequestParser::State::kComplete) {
    // Touch every view: they must point into live memory.
    volatile std::size_t sink = p.path().size() + p.host().size() + p.key().size();
    for (auto proto : p.protocols()) sink = sink + proto.size();
    for (const auto& e : p.extensions()) sink = sink + e.name.size() + e.params.size();
    (void)sink;
  } else if (p.state() == RequestParser::State::kRejected) {
    std::string response;
    writeRejection(response, p.rejection());
  }
  return {p.state(), p.rejection(), used};
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = in.empty() ? 0 : data[0] % (in.size() + 1);
  const Outcome whole = run(in, in.size());
  const Outcome split = run(in, cut);
  if (whole.state != split.state || whole.rejection != split.rejection) std::abort();
  // Where the request ends (and pipelined frames begin) must not depend on the split.
  if (whole.state == RequestParser::State::kComplete && whole.used != split.used) std::abort();
  return 0;
}
