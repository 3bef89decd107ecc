// wsedge-bench push: measures a push system (wsedge, nchan, Pushpin, or any
// server that fans out published messages to WebSocket subscribers).
// Subscriber threads each hold their share of the subscribers on their own
// io::Loop; one publisher thread, also on an io::Loop, publishes at a fixed
// rate through Redis (PUBLISH, pipelined) or HTTP (POST, keep-alive, one
// request in flight per connection). Every message carries its channel, a
// sequence number within that channel and its intended publish time, so a
// subscriber tells loss, duplicates and reordering apart, and latency counts
// from when the message should have been published (no coordinated
// omission).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/histogram.h"
#include "bench/load_client.h"
#include "io/loop.h"
#include "io/worker.h"

namespace wsedge::bench {

struct PushConfig {
  Target target;  // its path holds "{channel}", or the channel is appended
  std::uint32_t subscribers = 100;
  std::uint32_t channels = 1;
  std::uint32_t threads = 1;
  enum class Via : std::uint8_t { kRedis, kHttp } via = Via::kRedis;
  io::SocketAddress publishAddress;
  std::string publishHost;  // HTTP: the Host header
  std::string publishPath;  // Redis: the channel prefix; HTTP: the path, with "{channel}" or not
  std::uint32_t publishers = 4;  // HTTP connections
  double rate = 100;             // publishes per second, over every channel
  std::uint32_t size = 128;
  std::uint64_t warmupNs = 1'000'000'000;
  std::uint64_t durationNs = 10'000'000'000;
  std::uint64_t settleNs = 1'000'000'000;  // after the last upgrade, before publishing
  std::uint64_t drainNs = 5'000'000'000;   // after the last publish, for stragglers
  bool insecure = false;
  std::string caFile;

  std::string channelName(std::uint32_t i) const { return "ch" + std::to_string(i); }
};

/// What the subscribers of one thread saw.
struct PushResults {
  Histogram latency;  // ns, from the intended publish time
  std::uint64_t upgraded = 0;
  std::uint64_t connectFailures = 0;
  std::uint64_t handshakeFailures = 0;
  std::uint64_t deliveries = 0;        // messages received (all)
  std::uint64_t windowDeliveries = 0;  // ... in the measured window
  std::uint64_t lost = 0;              // never arrived, at a subscriber still open
  std::uint64_t lostToClose = 0;       // missing at a subscriber the server closed (counted)
  std::uint64_t duplicates = 0;
  std::uint64_t reordered = 0;
  std::uint64_t malformed = 0;                    // not a message of ours
  std::map<std::uint16_t, std::uint64_t> closes;  // server closes, by code (1006: dropped)
  std::vector<std::string> errorSamples;

  void merge(const PushResults& o);
  void noteError(std::string message);
};

/// Shared between the subscriber threads, the publisher and main.
struct PushShared {
  std::atomic<std::uint64_t> upgraded{0}, failed{0}, deliveries{0};
  std::atomic<std::uint64_t> published{0}, publishErrors{0};
  std::atomic<std::uint64_t> unsent{0};  // due, never written: the publisher fell behind
  std::atomic<bool> publishing{false}, publishDone{false};
  // Set before `publishing` is: when message 0 is due, and the measured window.
  std::uint64_t publishStart = 0, windowStart = 0, windowEnd = 0;
  std::vector<std::atomic<std::uint64_t>> perChannel;  // published, by channel
  std::mutex mutex;
  std::vector<std::string> publishErrorSamples;
  explicit PushShared(std::uint32_t channels) : perChannel(channels) {}
};

class PushSubscribers;
class PushPublisher;

/// Builds the io::Worker apps.
std::shared_ptr<io::Worker::App> makeSubscribers(io::Loop& loop, const PushConfig& config,
                                                 std::uint32_t thread, PushShared& shared,
                                                 PushResults& results);
std::shared_ptr<io::Worker::App> makePublisher(io::Loop& loop, const PushConfig& config,
                                               PushShared& shared);

/// Runs the whole measurement and prints the report; the exit status.
int runPush(const PushConfig& config, bool json, bool allowLoss, const std::vector<int>& watchPids);

/// The message a publisher sends: "CHANNEL SEQ NS " padded with 'x' to size.
std::string pushMessage(std::uint32_t channel, std::uint64_t seq, std::uint64_t ns,
                        std::uint32_t size);
inline constexpr std::uint32_t kMinPushMessage = 48;

}  // namespace wsedge::bench
