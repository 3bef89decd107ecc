// Internal: the lookup tables of the Keiser-Lemire UTF-8 validator, shared by
// the AVX2 and AVX-512 kernels. Each entry is a set of error flags; a pair of
// bytes is invalid when the three lookups share a flag.
#pragma once

#include <cstdint>

namespace wsedge::ws::detail {

inline constexpr std::uint8_t kTooShort = 1 << 0;      // lead followed by a non-continuation
inline constexpr std::uint8_t kTooLong = 1 << 1;       // ASCII followed by a continuation
inline constexpr std::uint8_t kOverlong3 = 1 << 2;     // E0 80..9F
inline constexpr std::uint8_t kTooLarge = 1 << 3;      // F4 90..BF, F5..FF
inline constexpr std::uint8_t kSurrogate = 1 << 4;     // ED A0..BF
inline constexpr std::uint8_t kOverlong2 = 1 << 5;     // C0, C1
inline constexpr std::uint8_t kTooLarge1000 = 1 << 6;  // F5..FF 80..8F
inline constexpr std::uint8_t kOverlong4 = 1 << 6;     // F0 80..8F
inline constexpr std::uint8_t kTwoConts = 1 << 7;      // continuation after continuation
inline constexpr std::uint8_t kCarry = kTooShort | kTooLong | kTwoConts;

// Indexed by the high nibble of the first byte of the pair.
alignas(16) inline constexpr std::uint8_t kUtf8Byte1High[16] = {
    kTooLong,
    kTooLong,
    kTooLong,
    kTooLong,
    kTooLong,
    kTooLong,
    kTooLong,
    kTooLong,
    kTwoConts,
    kTwoConts,
    kTwoConts,
    kTwoConts,
    kTooShort | kOverlong2,
    kTooShort,
    kTooShort | kOverlong3 | kSurrogate,
    kTooShort | kTooLarge | kTooLarge1000 | kOverlong4,
};

// Indexed by the low nibble of the first byte of the pair.
alignas(16) inline constexpr std::uint8_t kUtf8Byte1Low[16] = {
    kCarry | kOverlong3 | kOverlong2 | kOverlong4,
    kCarry | kOverlong2,
    kCarry,
    kCarry,
    kCarry | kTooLarge,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000 | kSurrogate,
    kCarry | kTooLarge | kTooLarge1000,
    kCarry | kTooLarge | kTooLarge1000,
};

// Indexed by the high nibble of the second byte of the pair.
alignas(16) inline constexpr std::uint8_t kUtf8Byte2High[16] = {
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge1000 | kOverlong4,
    kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge,
    kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge,
    kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
};

}  // namespace wsedge::ws::detail
