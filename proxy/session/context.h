// What a session is given instead of its worker: the network (connections
// and timers), the mask-key source, the idle backend connections, and whom
// to tell when it has ended.
#pragma once

#include <cstdint>
#include <memory>

#include "proxy/transport/network.h"
#include "proxy/ws/mask_key.h"

namespace wsedge::pubsub {
class Hub;
}
namespace wsedge::telemetry {
struct PushCounters;
}

namespace wsedge::proxy {

class Session;
class UpstreamPool;
struct SessionRecord;
struct Generation;

class SessionOwner {
 public:
  /// The session has ended (its connections are closing on their own).
  /// Delete it later, never during this call.
  virtual void sessionEnded(Session& session, const SessionRecord& record) = 0;
  /// A plain HTTP request was answered and the connection stays open for
  /// the next (the last request of a connection is in sessionEnded()).
  virtual void requestServed(Session&, const SessionRecord&) {}
  /// The generation new sessions are given now (null: none newer to offer).
  virtual std::shared_ptr<Generation> latest() const { return nullptr; }
  /// While the worker drains for a shutdown: when its window ends (0: not).
  virtual std::uint64_t shutdownEndsMs() const { return 0; }

 protected:
  ~SessionOwner() = default;
};

struct SessionContext {
  transport::Network& net;
  ws::MaskKeySource& masks;
  SessionOwner& owner;
  bool detailedRecords = false;       // the access log is on: keep what it reports
  UpstreamPool* upstreams = nullptr;  // idle backend connections for plain HTTP (null: none kept)
  pubsub::Hub* hub = nullptr;         // this worker's channels
  telemetry::PushCounters* pushCounters = nullptr;
};

}  // namespace wsedge::proxy
