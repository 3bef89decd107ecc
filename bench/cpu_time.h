// CPU time, of this process and of others (the proxy under test), for the
// CPU-per-message figures.
#pragma once

#include <vector>

namespace wsedge::bench {

/// This process: user + system seconds.
double cpuSeconds();
/// Another process, from /proc/PID/stat (0 if it is gone).
double processCpuSeconds(int pid);
/// The sum over these processes.
double watchedCpu(const std::vector<int>& pids);

}  // namespace wsedge::bench
