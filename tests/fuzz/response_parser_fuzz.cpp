// Fuzzes the backend response parser and the 101 verification, whole and split.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "proxy/http/response_parser.h"

using namespace wsedge::http;

namespace {
int run(std::string_view in, std::size_t cut) {
  static const std::vector<std::string_view> kProtocols{"chat", "superchat"};
  static const std::vector<Extension> kExtensions = [] {
    std::vector<Extension> e;
    parseExtensions("permessage-deflate; client_max_window_bits", e);
    return e;
  }();
  UpgradeResponseParser p;
  std::size_t used = p.feed(in.substr(0, cut));
  if (p.state() == UpgradeResponseParser::State::kIncomplete) used += p.feed(in.substr(used));
  // The consumed count matters only for a complete head (where the body or
  // frames begin); on an error it depends on the split.
  if (p.state() != UpgradeResponseParser::State::kComplete) return static_cast<int>(p.state());
  const auto verdict = p.verify({"dGhlIHNhbXBsZSBub25jZQ==", kProtocols, kExtensions});
  return static_cast<int>(verdict) * 7919 + p.status() * 13 + static_cast<int>(used);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = in.empty() ? 0 : data[0] % (in.size() + 1);
  if (run(in, in.size()) != run(in, cut)) std::abort();
  return 0;
}
