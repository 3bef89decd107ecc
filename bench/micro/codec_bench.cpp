// wsedge-micro: Google Benchmark micro-benchmarks for the protocol core.
// Targets are ratios within one run (see bench/micro_report.py), never
// absolute times: the machine is shared.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "proxy/http/request_parser.h"
#include "proxy/ws/frame_parser.h"
#include "proxy/ws/frame_writer.h"
#include "proxy/ws/simd_dispatch.h"
#include "proxy/ws/unmask.h"
#include "proxy/ws/utf8.h"

namespace {

using namespace wsedge;

std::vector<std::byte> randomBytes(std::size_t n) {
  std::vector<std::byte> v(n);
  std::mt19937 rng(1);
  for (auto& b : v) b = std::byte(rng());
  return v;
}

// Realistic multilingual text: Latin, Cyrillic, CJK and emoji mixed.
std::string mixedText(std::size_t n) {
  static const char* kWords[] = {"The ",    "quick ", "brown ", "fox ",      "café ",  "naïve ",
                                 "Привет ", "мир ",   "добро ", "日本語 ",   "中文 ",  "한국어 ",
                                 "😀 ",      "🚀 ",     "🎉 ",     "Ελληνικά ", "עברית ", "data, "};
  std::mt19937 rng(2);
  std::string s;
  while (s.size() < n + 16) s += kWords[rng() % (sizeof kWords / sizeof *kWords)];
  // Cut back to a code point boundary at or below n.
  std::size_t len = n;
  while (len > 0 && (static_cast<unsigned char>(s[len]) & 0xC0) == 0x80) --len;
  s.resize(len);
  return s;
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int n : {64, 1024, 16384, 1048576}) b->Arg(n);
}

void BM_Memcpy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto src = randomBytes(n);
  std::vector<std::byte> dst(n);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_Memcpy)->Apply(sizes);

// Unmasking src into dst, the same shape of work as BM_Memcpy (and how the
// proxy re-masks into its output). Masking one buffer in place over and over
// would measure store-to-load forwarding latency instead of throughput.
void BM_Unmask(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto src = randomBytes(n);
  std::vector<std::byte> dst(n);
  const ws::MaskKey key{0x37, 0xfa, 0x21, 0x3d};
  for (auto _ : state) {
    ws::applyMaskCopy(dst.data(), src, key, 1);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetLabel(std::string(ws::simdLevelName(ws::activeSimdLevel())));
}
BENCHMARK(BM_Unmask)->Apply(sizes);

void BM_UnmaskScalar(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto src = randomBytes(n);
  std::vector<std::byte> dst(n);
  auto* s = reinterpret_cast<const std::uint8_t*>(src.data());
  auto* d = reinterpret_cast<std::uint8_t*>(dst.data());
  for (auto _ : state) {
    ws::detail::maskScalar(d, s, n, 0x3d21fa37);
    benchmark::DoNotOptimize(d);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_UnmaskScalar)->Apply(sizes);

void BM_Utf8Ascii(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::string s(n, 'a');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(' ' + i % 95);
  for (auto _ : state) benchmark::DoNotOptimize(ws::isValidUtf8(std::string_view(s)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetLabel(std::string(ws::simdLevelName(ws::activeSimdLevel())));
}
BENCHMARK(BM_Utf8Ascii)->Apply(sizes);

void BM_Utf8Mixed(benchmark::State& state) {
  const std::string s = mixedText(static_cast<std::size_t>(state.range(0)));
  if (!ws::isValidUtf8(std::string_view(s))) state.SkipWithError("generator made invalid text");
  for (auto _ : state) benchmark::DoNotOptimize(ws::isValidUtf8(std::string_view(s)));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.size()));
  state.SetLabel(std::string(ws::simdLevelName(ws::activeSimdLevel())));
}
BENCHMARK(BM_Utf8Mixed)->Apply(sizes);

// The scalar kernel on the same mixed input as BM_Utf8Mixed.
void BM_Utf8Scalar(benchmark::State& state) {
  const std::string s = mixedText(static_cast<std::size_t>(state.range(0)));
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  for (auto _ : state) benchmark::DoNotOptimize(ws::detail::utf8Scalar(p, s.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.size()));
}
BENCHMARK(BM_Utf8Scalar)->Apply(sizes);

struct NullSink {
  std::size_t bytes = 0;
  void onFrameStart(const ws::FrameHeader&) {}
  void onPayload(std::span<std::byte> d) { bytes += d.size(); }
  void onFrameEnd(const ws::FrameHeader&) {}
  void onControl(ws::Opcode, std::span<const std::byte>) {}
  void onClose(std::uint16_t, std::string_view) {}
};

// Masked binary frames from a client, as the proxy sees them: the parser
// checks each header and unmasks each payload in place. At least 1 MiB of
// frames per iteration so small sizes measure per-frame cost.
void BM_FrameParse(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::size_t frames = std::max<std::size_t>(1, (std::size_t{1} << 20) / n);
  const auto payload = randomBytes(n);
  std::vector<std::byte> wire;
  ws::FrameHeader h;
  h.opcode = ws::Opcode::kBinary;
  h.masked = true;
  h.mask = {1, 2, 3, 4};
  for (std::size_t i = 0; i < frames; ++i) ws::appendFrame(wire, h, payload);
  ws::FrameParserOptions limits;
  limits.maxFrameSize = limits.maxMessageSize = std::uint64_t{1} << 30;
  for (auto _ : state) {
    ws::ServerFrameParser parser(limits);
    NullSink sink;
    if (parser.feed(wire, sink) != ws::ParseStatus::kOk) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(sink.bytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frames * n));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * frames));
}
BENCHMARK(BM_FrameParse)->Apply(sizes);

void BM_HandshakeParse(benchmark::State& state) {
  const std::string request =
      "GET /chat?room=lobby HTTP/1.1\r\n"
      "Host: server.example.com\r\n"
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Origin: https://example.com\r\n"
      "Cookie: session=0123456789abcdef; theme=dark\r\n"
      "Sec-WebSocket-Protocol: chat, superchat\r\n"
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "\r\n";
  for (auto _ : state) {
    http::RequestParser p;
    p.feed(request);
    if (p.state() != http::RequestParser::State::kComplete) state.SkipWithError("rejected");
    benchmark::DoNotOptimize(p.key().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_HandshakeParse);

}  // namespace

BENCHMARK_MAIN();
