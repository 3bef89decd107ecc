// Passive health: a backend that fails several sessions in a row (a refused
// or failed connect, a 5xx or invalid answer to the upgrade) is ejected for
// a while, counted per process over every worker. A repeat ejection lasts
// twice as long as the one before, up to ten times the base.
#pragma once

#include <cstdint>

#include "conf/config.h"
#include "proxy/pool/pool_state.h"

namespace wsedge::proxy {

/// Returns true if this failure ejected the backend.
bool noteFailure(BackendState& backend, const conf::OutlierConfig& outlier, std::uint64_t nowMs);
void noteSuccess(BackendState& backend, const conf::OutlierConfig& outlier, std::uint64_t nowMs);

}  // namespace wsedge::proxy
