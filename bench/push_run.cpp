// wsedge-bench push: the run (subscribe, settle, publish, drain, tally) and its report.
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/cpu_time.h"
#include "bench/push_load.h"

namespace wsedge::bench {

namespace {

void sleepNs(std::uint64_t ns) {
  std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
}

double ms(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

}  // namespace

int runPush(const PushConfig& config, bool json, bool allowLoss,
            const std::vector<int>& watchPids) {
  PushShared shared(config.channels);
  std::vector<PushResults> results(config.threads);
  io::Loop::Options options;
  options.tickMs = 10;
  std::vector<std::unique_ptr<io::Worker>> subscribers;
  for (std::uint32_t t = 0; t < config.threads; ++t) {
    PushResults* r = &results[t];
    subscribers.push_back(std::make_unique<io::Worker>(
        static_cast<int>(t), -1, options, [&config, t, &shared, r](io::Loop& loop) {
          return makeSubscribers(loop, config, t, shared, *r);
        }));
    subscribers.back()->start();
  }
  const auto stopAll = [&](std::vector<std::unique_ptr<io::Worker>>& workers) {
    for (auto& w : workers) w->stop();
    for (auto& w : workers) w->join();
  };

  // Every subscriber upgraded (or failed), within a minute.
  const std::uint64_t connectStart = monotonicNs();
  std::uint64_t lastSaid = connectStart;
  while (shared.upgraded.load() + shared.failed.load() < config.subscribers) {
    if (monotonicNs() - connectStart > 60'000'000'000) break;
    sleepNs(20'000'000);
    if (monotonicNs() - lastSaid >= 1'000'000'000) {
      lastSaid = monotonicNs();
      std::fprintf(stderr, "subscribers upgraded %llu of %u, failed %llu\n",
                   static_cast<unsigned long long>(shared.upgraded.load()), config.subscribers,
                   static_cast<unsigned long long>(shared.failed.load()));
    }
  }
  const std::uint64_t upgraded = shared.upgraded.load();
  std::fprintf(stderr, "subscribers upgraded %llu of %u in %.1f s\n",
               static_cast<unsigned long long>(upgraded), config.subscribers,
               static_cast<double>(monotonicNs() - connectStart) / 1e9);
  if (upgraded < config.subscribers) {
    stopAll(subscribers);
    PushResults all;
    for (const PushResults& r : results) all.merge(r);
    std::fprintf(stderr, "wsedge-bench push: %llu subscribers could not subscribe; first: %s\n",
                 static_cast<unsigned long long>(config.subscribers - upgraded),
                 all.errorSamples.empty() ? "(timed out)" : all.errorSamples[0].c_str());
    return 1;
  }
  sleepNs(config.settleNs);  // the subscriptions reach the bus (Redis SUBSCRIBE)

  shared.publishStart = monotonicNs() + 20'000'000;
  shared.windowStart = shared.publishStart + config.warmupNs;
  shared.windowEnd = shared.windowStart + config.durationNs;
  std::vector<std::unique_ptr<io::Worker>> publisher;
  publisher.push_back(std::make_unique<io::Worker>(
      static_cast<int>(config.threads), -1, options,
      [&config, &shared](io::Loop& loop) { return makePublisher(loop, config, shared); }));
  publisher.back()->start();
  shared.publishing = true;

  // Progress each second; CPU at the edges of the window; then the drain.
  double cpu0 = 0, cpu1 = 0, watched0 = 0, watched1 = 0;
  bool read0 = false, read1 = false;
  std::uint64_t tick = monotonicNs(), lastPublished = 0, lastDelivered = 0;
  std::uint64_t drainUntil = 0;
  // Every subscriber of a channel gets each of its messages.
  const auto expected = [&] {
    std::uint64_t total = 0;
    for (std::uint32_t c = 0; c < config.channels; ++c) {
      const std::uint64_t subs =
          config.subscribers / config.channels + (c < config.subscribers % config.channels);
      total += shared.perChannel[c].load() * subs;
    }
    return total;
  };
  for (;;) {
    sleepNs(10'000'000);
    const std::uint64_t now = monotonicNs();
    if (!read0 && now >= shared.windowStart) {
      cpu0 = cpuSeconds();
      watched0 = watchedCpu(watchPids);
      read0 = true;
    }
    if (!read1 && now >= shared.windowEnd) {
      cpu1 = cpuSeconds();
      watched1 = watchedCpu(watchPids);
      read1 = true;
    }
    if (now - tick >= 1'000'000'000) {
      const std::uint64_t p = shared.published.load(), d = shared.deliveries.load();
      std::fprintf(stderr, "%6.1fs  published %7llu/s  delivered %9llu/s\n",
                   static_cast<double>(now - shared.publishStart) / 1e9,
                   static_cast<unsigned long long>(p - lastPublished),
                   static_cast<unsigned long long>(d - lastDelivered));
      lastPublished = p;
      lastDelivered = d;
      tick = now;
    }
    if (shared.publishDone.load() && drainUntil == 0) drainUntil = now + config.drainNs;
    if (drainUntil != 0 && (now >= drainUntil || shared.deliveries.load() >= expected())) break;
  }
  stopAll(publisher);
  stopAll(subscribers);

  PushResults all;
  for (const PushResults& r : results) all.merge(r);
  const double seconds = static_cast<double>(config.durationNs) / 1e9;
  const std::uint64_t published = shared.published.load();
  const std::uint64_t publishErrors = shared.publishErrors.load();
  const double deliveriesPerS = static_cast<double>(all.windowDeliveries) / seconds;
  const double offered = config.rate * (static_cast<double>(config.subscribers) / config.channels);
  std::uint64_t closed = 0;
  for (const auto& [code, n] : all.closes) closed += n;
  const Histogram& l = all.latency;
  const double proxyCpu = watched1 - watched0;

  if (json) {
    nlohmann::ordered_json j{
        {"subscribers", config.subscribers},
        {"channels", config.channels},
        {"rate", config.rate},
        {"size", config.size},
        {"via", config.via == PushConfig::Via::kRedis ? "redis" : "http"},
        {"seconds", seconds},
        {"published", published},
        {"publish_errors", publishErrors},
        {"unsent", shared.unsent.load()},
        {"offered_deliveries_per_s", offered},
        {"deliveries_per_s", deliveriesPerS},
        {"deliveries", all.deliveries},
        {"expected_deliveries", expected()},
        {"lost", all.lost},
        {"lost_to_close", all.lostToClose},
        {"duplicates", all.duplicates},
        {"reordered", all.reordered},
        {"malformed", all.malformed},
        {"closed_subscribers", closed},
        {"p50_ms", ms(l.percentile(50))},
        {"p90_ms", ms(l.percentile(90))},
        {"p99_ms", ms(l.percentile(99))},
        {"p999_ms", ms(l.percentile(99.9))},
        {"max_ms", ms(l.max())},
        {"client_cpu_s", cpu1 - cpu0},
    };
    nlohmann::ordered_json codes = nlohmann::ordered_json::object();
    for (const auto& [code, n] : all.closes) codes[std::to_string(code)] = n;
    j["closes"] = codes;
    if (!watchPids.empty()) {
      j["watched_cpu_s"] = proxyCpu;
      j["watched_cpu_us_per_delivery"] =
          all.windowDeliveries ? proxyCpu * 1e6 / static_cast<double>(all.windowDeliveries) : 0;
    }
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("push: %u subscribers on %u channels, %.0f publishes/s of %u B via %s, %.1f s\n",
                config.subscribers, config.channels, config.rate, config.size,
                config.via == PushConfig::Via::kRedis ? "redis" : "http", seconds);
    std::printf("  deliveries   %12.0f /s   (offered %.0f /s)\n", deliveriesPerS, offered);
    std::printf(
        "  latency      p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
        ms(l.percentile(50)), ms(l.percentile(90)), ms(l.percentile(99)), ms(l.percentile(99.9)),
        ms(l.max()));
    std::printf(
        "  published    %llu (errors %llu, due but never sent %llu); delivered %llu of %llu\n",
        static_cast<unsigned long long>(published), static_cast<unsigned long long>(publishErrors),
        static_cast<unsigned long long>(shared.unsent.load()),
        static_cast<unsigned long long>(all.deliveries),
        static_cast<unsigned long long>(expected()));
    std::printf("  lost %llu, lost at closed subscribers %llu, duplicates %llu, reordered %llu\n",
                static_cast<unsigned long long>(all.lost),
                static_cast<unsigned long long>(all.lostToClose),
                static_cast<unsigned long long>(all.duplicates),
                static_cast<unsigned long long>(all.reordered));
    for (const auto& [code, n] : all.closes) {
      std::printf("  closed by the server with %u: %llu subscribers\n", code,
                  static_cast<unsigned long long>(n));
    }
    if (!watchPids.empty() && all.windowDeliveries) {
      std::printf("  watched CPU  %.2f s, %.3f us per delivery\n", proxyCpu,
                  proxyCpu * 1e6 / static_cast<double>(all.windowDeliveries));
    }
  }
  for (const std::string& e : all.errorSamples) std::fprintf(stderr, "  error: %s\n", e.c_str());
  for (const std::string& e : shared.publishErrorSamples) {
    std::fprintf(stderr, "  publish error: %s\n", e.c_str());
  }
  const bool bad = publishErrors > 0 || all.duplicates > 0 || all.reordered > 0 ||
                   all.malformed > 0 || (!allowLoss && all.lost > 0) || published == 0;
  return bad ? 1 : 0;
}

}  // namespace wsedge::bench
