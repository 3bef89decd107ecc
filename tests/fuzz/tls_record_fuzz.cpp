// Fuzzes wsedge's TLS 1.3 record path (TlsStream after the handshake, on
// RecordLayer): the input describes records, sealed with the peer's key or
// not (raw bytes), of any type and padding, and a piece size. Fed whole and
// fed in pieces, a server stream must deliver the same plaintext, write the
// same bytes back (KeyUpdate answers, alerts) and end the same way.
#include <openssl/ssl.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tls/stream.h"

using wsedge::tls::RecordLayer;
using wsedge::tls::TlsStream;

namespace {

constexpr std::uint16_t kSuite = 0x1301;
const std::vector<std::uint8_t> kClient(32, 0xc1), kServer(32, 0x5e);

struct Run {
  std::string plain, out;
  TlsStream::Status status = TlsStream::Status::kOk;
  std::string error;
};

Run feed(std::vector<std::byte> wire, std::size_t piece) {
  static SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx));
  SSL_set_accept_state(ssl.get());
  TlsStream stream(std::move(ssl));
  stream.adoptRecords(RecordLayer::create(kSuite, kClient, 0, kServer, 0));
  Run r;
  const TlsStream::Writer out{&r.out, [](void* p, std::size_t n) {
                                auto* s = static_cast<std::string*>(p);
                                s->resize(s->size() + n);
                                return reinterpret_cast<std::byte*>(s->data() + s->size() - n);
                              }};
  const TlsStream::Reader in{&r.plain, [](void* p, std::span<std::byte> d) {
                               static_cast<std::string*>(p)->append(
                                   reinterpret_cast<const char*>(d.data()), d.size());
                             }};
  std::span<std::byte> rest(wire);
  do {
    const std::size_t n = piece == 0 ? rest.size() : std::min(piece, rest.size());
    r.status = stream.receive(rest.first(n), out, in);
    rest = rest.subspan(n);
  } while (!rest.empty() && r.status == TlsStream::Status::kOk);
  r.error = stream.error();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = data[0] % 40;
  auto sender = RecordLayer::create(kSuite, kServer, 0, kClient, 0);
  std::vector<std::byte> wire;
  std::size_t at = 1;
  // Each op: kind, length, then that many bytes (cut short at the end).
  while (at + 2 <= size) {
    const std::uint8_t kind = data[at];
    std::size_t n = data[at + 1];
    if (kind & 0x80) n *= 97;  // sometimes long: records up to 24 KiB and more
    at += 2;
    std::vector<std::byte> body(n);
    for (std::size_t i = 0; i < n; ++i)
      body[i] = std::byte{at + i < size ? data[at + i] : std::uint8_t(i)};
    at += std::min(n, size - at);
    if ((kind & 3) == 3) {
      wire.insert(wire.end(), body.begin(), body.end());  // raw: a header, garbage
      continue;
    }
    // Sealed: as a record of the type the op names; 0 makes the body's own
    // last non-zero byte the type (padding).
    const auto type = static_cast<RecordLayer::Type>((kind & 3) == 0   ? 23
                                                     : (kind & 3) == 1 ? 21
                                                     : (kind & 4)      ? 22
                                                                       : 0);
    const std::size_t m = std::min(body.size(), RecordLayer::kMaxPlaintext + 1);
    const std::size_t start = wire.size();
    wire.resize(start + m + RecordLayer::kOverhead);
    sender->seal(type, std::span(body).first(m), wire.data() + start);
  }
  const Run whole = feed(wire, 0);
  const Run split = feed(wire, piece == 0 ? 1 : piece);
  if (whole.plain != split.plain || whole.out != split.out || whole.status != split.status ||
      whole.error != split.error) {
    abort();
  }
  return 0;
}
