// Internal: the kernel table behind unmask.h and utf8.h. One indirect call per
// buffer; the table starts out scalar (constant-initialised, so it is usable
// during static initialisation) and is upgraded to the detected level at load.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proxy/ws/simd_level.h"

namespace wsedge::ws::detail {

/// dst[i] = src[i] ^ key byte (i % 4); key is in memory order. dst may equal src.
using MaskFn = void (*)(std::uint8_t* dst, const std::uint8_t* src, std::size_t n,
                        std::uint32_t key);
/// True if [data, data+n) is complete, valid UTF-8.
using Utf8Fn = bool (*)(const std::uint8_t* data, std::size_t n);

void maskScalar(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key);
void maskSse2(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key);
void maskAvx2(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key);
void maskAvx512(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key);

bool utf8Scalar(const std::uint8_t* data, std::size_t n);
bool utf8Avx2(const std::uint8_t* data, std::size_t n);
bool utf8Avx512(const std::uint8_t* data, std::size_t n);

struct Dispatch {
  SimdLevel level;
  MaskFn mask;
  Utf8Fn utf8;
};

extern Dispatch gDispatch;

inline const Dispatch& dispatch() {
  return gDispatch;
}
void selectDispatch(SimdLevel level);

}  // namespace wsedge::ws::detail
