#include "bench/report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace wsedge::bench {
namespace {

double us(std::uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string duration(std::uint64_t ns) {
  if (ns >= 1'000'000) return fmt("%.2f ms", static_cast<double>(ns) / 1e6);
  return fmt("%.1f us", us(ns));
}

}  // namespace

std::string progressLine(double elapsed, std::uint64_t messages, std::uint64_t bytes,
                         double interval, std::uint64_t p99ns, std::uint64_t errors, bool storm) {
  char line[256];
  if (storm) {
    std::snprintf(line, sizeof line, "%6.1fs  handshakes/s %10.0f  errors %llu", elapsed,
                  static_cast<double>(messages) / interval,
                  static_cast<unsigned long long>(errors));
  } else {
    std::snprintf(line, sizeof line, "%6.1fs  msgs/s %10.0f  MB/s %9.1f  p99 %10s  errors %llu",
                  elapsed, static_cast<double>(messages) / interval,
                  static_cast<double>(bytes) / interval / 1e6, duration(p99ns).c_str(),
                  static_cast<unsigned long long>(errors));
  }
  return line;
}

std::string humanReport(const Summary& s) {
  const RunResults& r = s.results;
  const RunConfig& c = *s.config;
  std::string out;
  auto row = [&](const std::string& k, const std::string& v) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-22s %s\n", k.c_str(), v.c_str());
    out += line;
  };
  out += "wsedge-bench: " + c.target.url + "\n";
  if (c.idle) {
    row("connections upgraded", std::to_string(r.upgraded) + " of " + std::to_string(c.conns));
  } else if (c.storm || c.tlsOnly) {
    row("handshakes/s", fmt("%.0f", static_cast<double>(r.handshakes) / s.seconds));
  } else {
    row("messages/s", fmt("%.0f", static_cast<double>(r.messages) / s.seconds));
    row("MB/s", fmt("%.1f", static_cast<double>(r.bytes) / s.seconds / 1e6));
    row("latency p50", duration(r.latency.percentile(50)));
    row("latency p90", duration(r.latency.percentile(90)));
    row("latency p99", duration(r.latency.percentile(99)));
    row("latency p99.9", duration(r.latency.percentile(99.9)));
    row("latency max", duration(r.latency.max()));
  }
  row("connect p50 / p99",
      duration(r.connect.percentile(50)) + " / " + duration(r.connect.percentile(99)));
  if (c.target.tls) {
    row("TLS", r.tlsVersion + " " + r.tlsCipher +
                   (c.tlsResume ? ", " + std::to_string(r.tlsResumed) + " resumed" : ""));
    row("TLS p50 / p99", duration(r.tls.percentile(50)) + " / " + duration(r.tls.percentile(99)));
  }
  row("upgrade p50 / p99",
      duration(r.handshake.percentile(50)) + " / " + duration(r.handshake.percentile(99)));
  const double count = static_cast<double>(c.storm || c.tlsOnly ? r.handshakes : r.messages);
  row("CPU (this tool)",
      fmt("%.2f s", s.cpuSeconds) +
          (count > 0 ? fmt(", %.2f us per message", s.cpuSeconds * 1e6 / count) : ""));
  if (!s.watchedPids.empty() && count > 0) {
    row("CPU (watched)", fmt("%.2f s", s.watchedCpuSeconds) +
                             fmt(", %.2f us per message", s.watchedCpuSeconds * 1e6 / count));
  }
  row("errors", std::to_string(r.errors()));
  if (r.errors() > 0) {
    row("  mismatches", std::to_string(r.mismatches));
    row("  reordered", std::to_string(r.reorders));
    row("  connect failures", std::to_string(r.connectFailures));
    row("  handshake failures", std::to_string(r.handshakeFailures));
    row("  protocol errors", std::to_string(r.protocolErrors));
    std::string codes;
    for (const auto& [code, n] : r.closeCodes)
      codes += " " + std::to_string(code) + "x" + std::to_string(n);
    row("  unexpected closes",
        std::to_string(r.unexpectedCloses) + (codes.empty() ? "" : " (" + codes.substr(1) + ")"));
    for (const std::string& e : r.errorSamples) out += "    " + e + "\n";
  }
  if (r.missedSends)
    row("missed sends", std::to_string(r.missedSends) + " (no connection was ready)");
  return out;
}

std::string jsonReport(const Summary& s) {
  const RunResults& r = s.results;
  const RunConfig& c = *s.config;
  const double count = static_cast<double>(c.storm || c.tlsOnly ? r.handshakes : r.messages);
  nlohmann::ordered_json j;
  j["url"] = c.target.url;
  j["mode"] = c.idle      ? "idle"
              : c.storm   ? "storm"
              : c.tlsOnly ? "tls"
                          : (c.rate > 0 ? "open_loop" : "closed_loop");
  j["upgraded"] = r.upgraded;
  j["conns"] = c.conns;
  j["sizes"] = c.sizes;
  j["text"] = c.text;
  j["inflight"] = c.inflight;
  j["rate"] = c.rate;
  j["threads"] = c.threads;
  j["duration_s"] = s.seconds;
  j["messages"] = r.messages;
  j["bytes"] = r.bytes;
  j["msgs_per_s"] = static_cast<double>(r.messages) / s.seconds;
  j["mb_per_s"] = static_cast<double>(r.bytes) / s.seconds / 1e6;
  j["handshakes_per_s"] = static_cast<double>(r.handshakes) / s.seconds;
  j["p50_us"] = us(r.latency.percentile(50));
  j["p90_us"] = us(r.latency.percentile(90));
  j["p99_us"] = us(r.latency.percentile(99));
  j["p999_us"] = us(r.latency.percentile(99.9));
  j["max_us"] = us(r.latency.max());
  j["mean_us"] = r.latency.mean() / 1000.0;
  j["connect_p50_us"] = us(r.connect.percentile(50));
  j["connect_p99_us"] = us(r.connect.percentile(99));
  j["tls_p50_us"] = us(r.tls.percentile(50));
  j["tls_p99_us"] = us(r.tls.percentile(99));
  j["tls_version"] = r.tlsVersion;
  j["tls_cipher"] = r.tlsCipher;
  j["tls_resumed"] = r.tlsResumed;
  j["handshake_p50_us"] = us(r.handshake.percentile(50));
  j["handshake_p99_us"] = us(r.handshake.percentile(99));
  j["errors"] = r.errors();
  j["mismatches"] = r.mismatches;
  j["reorders"] = r.reorders;
  j["connect_failures"] = r.connectFailures;
  j["handshake_failures"] = r.handshakeFailures;
  j["protocol_errors"] = r.protocolErrors;
  j["unexpected_closes"] = r.unexpectedCloses;
  nlohmann::ordered_json codes = nlohmann::ordered_json::object();
  for (const auto& [code, n] : r.closeCodes) codes[std::to_string(code)] = n;
  j["close_codes"] = codes;
  j["missed_sends"] = r.missedSends;
  j["cpu_s"] = s.cpuSeconds;
  j["cpu_us_per_msg"] = count > 0 ? s.cpuSeconds * 1e6 / count : 0.0;
  j["watched_pids"] = s.watchedPids;
  j["watched_cpu_s"] = s.watchedCpuSeconds;
  j["watched_cpu_us_per_msg"] = count > 0 ? s.watchedCpuSeconds * 1e6 / count : 0.0;
  j["error_samples"] = r.errorSamples;
  return j.dump();
}

}  // namespace wsedge::bench
