// The exposition's text: families, label escaping, histogram buckets, and
// sums over workers.
#include "proxy/telemetry/prometheus.h"

#include <gtest/gtest.h>

#include "conf/loader.h"

namespace wsedge::telemetry {
namespace {

std::shared_ptr<const proxy::Snapshot> snapshot() {
  return proxy::buildSnapshot(conf::loadConfigFromString(R"(
listeners:
  - address: 127.0.0.1:8080
    routes: [ { name: chat, pool: chat } ]
pools:
  chat: { backends: [ 127.0.0.1:9001 ] }
)",
                                                         "t.yaml"));
}

bool has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(Prometheus, WorkersAreSummedAndEveryFamilyIsTyped) {
  WorkerMetrics a, b;
  a.route("127.0.0.1:8080", "chat", "chat").fromClient.messages = 3;
  b.route("127.0.0.1:8080", "chat", "chat").fromClient.messages = 4;
  b.route("127.0.0.1:8080", "chat", "chat").fromBackend.frames[9] = 2;  // pings
  a.closes[{"client", "1001", "sent"}] = 5;
  a.merge(b);
  Scrape s;
  s.counters = a;
  s.snapshot = snapshot();
  s.loops.resize(2);
  s.reloadsOk = 7;
  const std::string text = renderPrometheus(s);
  EXPECT_TRUE(has(text,
                  "wsedge_messages_total{listener=\"127.0.0.1:8080\",route=\"chat\",pool=\"chat\","
                  "direction=\"from_client\"} 7"));
  EXPECT_TRUE(has(text,
                  "wsedge_frames_total{listener=\"127.0.0.1:8080\",route=\"chat\",pool=\"chat\","
                  "direction=\"from_backend\",opcode=\"ping\"} 2"));
  EXPECT_TRUE(has(text, "wsedge_closes_total{side=\"client\",code=\"1001\",direction=\"sent\"} 5"));
  EXPECT_TRUE(has(text, "wsedge_reloads_total{result=\"ok\"} 7"));
  EXPECT_TRUE(has(text, "wsedge_config_generation 1"));
  EXPECT_TRUE(has(text, "wsedge_worker_loop_iterations_total{worker=\"1\"} 0"));
  EXPECT_TRUE(has(text, "# TYPE wsedge_messages_total counter"));
  EXPECT_TRUE(has(text, "# TYPE wsedge_connections_active gauge"));
}

TEST(Prometheus, LabelValuesAreEscapedAndHistogramsAreCumulative) {
  WorkerMetrics m;
  m.backend("p\"q", "a\\b\nc").pingRtt.observe(0.0002);
  m.backend("p\"q", "a\\b\nc").pingRtt.observe(0.003);
  m.backend("p\"q", "a\\b\nc").pingRtt.observe(100);
  Scrape s;
  s.counters = m;
  s.snapshot = snapshot();
  const std::string text = renderPrometheus(s);
  const std::string labels = "pool=\"p\\\"q\",backend=\"a\\\\b\\nc\"";
  EXPECT_TRUE(has(text, "wsedge_backend_ping_rtt_seconds_bucket{" + labels + ",le=\"0.0005\"} 1"));
  EXPECT_TRUE(has(text, "wsedge_backend_ping_rtt_seconds_bucket{" + labels + ",le=\"0.005\"} 2"));
  EXPECT_TRUE(has(text, "wsedge_backend_ping_rtt_seconds_bucket{" + labels + ",le=\"2.5\"} 2"));
  EXPECT_TRUE(has(text, "wsedge_backend_ping_rtt_seconds_bucket{" + labels + ",le=\"+Inf\"} 3"));
  EXPECT_TRUE(has(text, "wsedge_backend_ping_rtt_seconds_count{" + labels + "} 3"));
}

}  // namespace
}  // namespace wsedge::telemetry
