#include "proxy/telemetry/metrics.h"

namespace wsedge::telemetry {
namespace {

template <class Map>
void mergeSums(Map& into, const Map& from) {
  for (const auto& [key, value] : from) into[key] += value;
}

template <class Map>
void mergeEach(Map& into, const Map& from) {
  for (const auto& [key, value] : from) into[key].merge(value);
}

}  // namespace

std::string closeCodeLabel(std::uint16_t code) {
  if (code >= 3000 && code <= 4999) return code < 4000 ? "3xxx" : "4xxx";
  return std::to_string(code);
}

void Histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++counts[i];
  sum += seconds;
  ++count;
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  sum += other.sum;
  count += other.count;
}

void RelayCounters::merge(const RelayCounters& other) {
  messages += other.messages;
  bytes += other.bytes;
  for (std::size_t i = 0; i < frames.size(); ++i) frames[i] += other.frames[i];
}

void PushCounters::merge(const PushCounters& other) {
  fromRedis += other.fromRedis;
  fromBus += other.fromBus;
  deliveries += other.deliveries;
  overflowCloses += other.overflowCloses;
  controlMessages += other.controlMessages;
  badControl += other.badControl;
  tooLarge += other.tooLarge;
  redisConnects += other.redisConnects;
  redisFailures += other.redisFailures;
  redisUp += other.redisUp;
  channels += other.channels;
  fanout.merge(other.fanout);
}

void RouteCounters::merge(const RouteCounters& other) {
  fromClient.merge(other.fromClient);
  fromBackend.merge(other.fromBackend);
  ratePauses += other.ratePauses;
  rateCloses += other.rateCloses;
  subscribers += other.subscribers;
  subscribed += other.subscribed;
}

void ListenerCounters::merge(const ListenerCounters& other) {
  accepted += other.accepted;
  handshakesOk += other.handshakesOk;
  mergeSums(handshakesFailed, other.handshakesFailed);
  mergeSums(rejected, other.rejected);
  mergeSums(httpResponses, other.httpResponses);
  tlsHandshake.merge(other.tlsHandshake);
}

void BackendCounters::merge(const BackendCounters& other) {
  connectFailures += other.connectFailures;
  badAnswers += other.badAnswers;
  retries += other.retries;
  pingRtt.merge(other.pingRtt);
}

void WorkerMetrics::merge(const WorkerMetrics& other) {
  mergeEach(routes, other.routes);
  mergeEach(listeners, other.listeners);
  mergeEach(backends, other.backends);
  mergeSums(closes, other.closes);
  mergeSums(protocolErrors, other.protocolErrors);
  mergeSums(sessionsEnded, other.sessionsEnded);
  push.merge(other.push);
}

}  // namespace wsedge::telemetry
