// The clocks the runtime and the proxy share: the loops' millisecond clock
// (timers, deadlines, ejections: one epoch everywhere) and a fine steady
// clock for durations that are measured, not scheduled.
#pragma once

#include <cstdint>

namespace wsedge::io {

/// CLOCK_MONOTONIC_COARSE in ms: a vDSO read with no syscall, whose few
/// milliseconds of granularity are far below the 100 ms timer tick.
std::uint64_t monotonicMs();

/// CLOCK_MONOTONIC in ns.
std::uint64_t steadyNs();

}  // namespace wsedge::io
