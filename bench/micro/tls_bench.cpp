// The cost of TLS 1.3 records on this machine: BoringSSL's AEAD alone
// (seal then open the same bytes, in records of 16 KiB), and wsedge's record
// layer doing the same. Issue 16 measures wss against the first.
#include <benchmark/benchmark.h>
#include <openssl/aead.h>

#include <cstdint>
#include <vector>

#include "tls/record_layer.h"

namespace {

using wsedge::tls::RecordLayer;

struct Suite {
  std::uint16_t id;
  const EVP_AEAD* (*aead)();
  std::size_t secret;
};
constexpr Suite kSuites[] = {{0x1301, EVP_aead_aes_128_gcm, 32},
                             {0x1302, EVP_aead_aes_256_gcm, 48},
                             {0x1303, EVP_aead_chacha20_poly1305, 32}};

void args(benchmark::internal::Benchmark* b) {
  for (int suite = 0; suite < 3; ++suite) {
    for (int size : {1024, 1 << 20}) b->Args({suite, size});
  }
  b->ArgNames({"suite", "bytes"});
}

// Seal, then open, `bytes` in records of at most 16 KiB, in place.
void BM_BoringSslSealOpen(benchmark::State& state) {
  const Suite& s = kSuites[state.range(0)];
  const auto bytes = static_cast<std::size_t>(state.range(1));
  std::vector<std::uint8_t> key(EVP_AEAD_key_length(s.aead()), 7), buf(16384 + 64);
  bssl::ScopedEVP_AEAD_CTX ctx;
  EVP_AEAD_CTX_init(ctx.get(), s.aead(), key.data(), key.size(), 16, nullptr);
  std::uint8_t nonce[12] = {}, ad[5] = {23, 3, 3, 0, 0};
  for (auto _ : state) {
    for (std::size_t done = 0; done < bytes; done += 16384) {
      const std::size_t n = std::min<std::size_t>(16384, bytes - done);
      std::size_t out = 0;
      EVP_AEAD_CTX_seal(ctx.get(), buf.data(), &out, buf.size(), nonce, 12, buf.data(), n, ad, 5);
      EVP_AEAD_CTX_open(ctx.get(), buf.data(), &out, buf.size(), nonce, 12, buf.data(), out, ad, 5);
      benchmark::DoNotOptimize(out);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_BoringSslSealOpen)->Apply(args);

// The same through RecordLayer: header, type byte, nonce per record.
void BM_RecordLayerSealOpen(benchmark::State& state) {
  const Suite& s = kSuites[state.range(0)];
  const auto bytes = static_cast<std::size_t>(state.range(1));
  std::vector<std::uint8_t> a(s.secret, 1), b(s.secret, 2);
  auto sender = RecordLayer::create(s.id, a, 0, b, 0);
  auto receiver = RecordLayer::create(s.id, b, 0, a, 0);
  std::vector<std::byte> plain(16384, std::byte{'p'}), record(16384 + RecordLayer::kOverhead);
  for (auto _ : state) {
    for (std::size_t done = 0; done < bytes; done += 16384) {
      const std::size_t n = std::min<std::size_t>(16384, bytes - done);
      sender->seal(RecordLayer::Type::kApplicationData, std::span(plain).first(n), record.data());
      benchmark::DoNotOptimize(receiver->open(std::span(record).first(n + RecordLayer::kOverhead)));
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_RecordLayerSealOpen)->Apply(args);

}  // namespace
