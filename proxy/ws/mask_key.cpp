#include "proxy/ws/mask_key.h"

#include <openssl/rand.h>

#include <cstring>

namespace wsedge::ws {

MaskKey MaskKeySource::next() {
  if (used_ + 4 > sizeof pool_) {
    RAND_bytes(pool_, sizeof pool_);
    used_ = 0;
  }
  MaskKey key;
  std::memcpy(key.data(), pool_ + used_, 4);
  used_ += 4;
  return key;
}

}  // namespace wsedge::ws
