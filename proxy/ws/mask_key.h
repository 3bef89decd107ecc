// Fresh, unpredictable masking keys for every frame a client sends
// (RFC 6455 §5.3). Keys come from BoringSSL's CSPRNG, fetched 64 at a time
// so a key costs a copy, not a call into the RNG.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proxy/ws/unmask.h"

namespace wsedge::ws {

class MaskKeySource {
 public:
  MaskKey next();

 private:
  std::uint8_t pool_[256];
  std::size_t used_ = sizeof pool_;
};

}  // namespace wsedge::ws
