// How wsedge-bench shows what it measured: a progress line each second, and
// at the end a table for people or one flat JSON object for scripts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/load_client.h"

namespace wsedge::bench {

struct Summary {
  const RunConfig* config = nullptr;
  RunResults results;
  double seconds = 0;     // the measured window
  double cpuSeconds = 0;  // this process, user + system, over the window
  std::vector<int> watchedPids;
  double watchedCpuSeconds = 0;  // --watch-pid processes over the window
};

std::string progressLine(double elapsed, std::uint64_t messages, std::uint64_t bytes,
                         double interval, std::uint64_t p99ns, std::uint64_t errors, bool storm);
std::string humanReport(const Summary& s);
std::string jsonReport(const Summary& s);

}  // namespace wsedge::bench
