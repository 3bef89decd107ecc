#include "proxy/pool/maglev.h"

#include <algorithm>

#include "proxy/pool/stable_hash.h"

namespace wsedge::proxy {

MaglevTable::MaglevTable(const std::vector<std::string>& identities,
                         const std::vector<std::uint32_t>& weights, std::uint32_t size) {
  constexpr std::uint32_t kEmpty = ~std::uint32_t{0};
  entry_.assign(size, kEmpty);
  const std::size_t n = identities.size();
  if (n == 0) return;
  // Each backend's permutation: offset + j * skip (mod size), skip != 0.
  std::vector<std::uint64_t> offset(n), skip(n), next(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    offset[i] = stableHash(identities[i], 0x6d61676c6576ull) % size;
    skip[i] = stableHash(identities[i], 0x736b6970ull) % (size - 1) + 1;
  }
  // Rounds go through the backends by identity, not as listed: the
  // addresses of one name come back from DNS in any order, and every
  // process must still build the same table.
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return identities[a] < identities[b]; });
  // In each round a backend takes as many slots as its weight.
  std::uint32_t filled = 0;
  while (filled < size) {
    for (std::size_t k = 0; k < n && filled < size; ++k) {
      const std::size_t i = order[k];
      for (std::uint32_t w = 0; w < std::max<std::uint32_t>(weights[i], 1) && filled < size; ++w) {
        std::uint64_t slot;
        do {
          slot = (offset[i] + next[i] * skip[i]) % size;
          ++next[i];
        } while (entry_[slot] != kEmpty);
        entry_[slot] = static_cast<std::uint32_t>(i);
        ++filled;
      }
    }
  }
}

MaglevBalancer::MaglevBalancer(std::shared_ptr<const MaglevTable> table,
                               const std::vector<std::uint32_t>& weights)
    : table_(std::move(table)), fallback_(weights) {}

std::optional<std::size_t> MaglevBalancer::pick(const PickContext& context, const PoolState& pool) {
  if (!context.hashKey) return fallback_.pick(context, pool);
  // The owner of the key's slot, else the next slots' owners in turn: one
  // pass over the table at most (other workers change who is eligible
  // meanwhile, so "someone is" cannot be known beforehand).
  for (std::uint64_t k = 0; k < table_->size(); ++k) {
    const std::size_t i = table_->entry(*context.hashKey + k);
    if (!context.excluded(i, pool)) return i;
  }
  return std::nullopt;
}

}  // namespace wsedge::proxy
