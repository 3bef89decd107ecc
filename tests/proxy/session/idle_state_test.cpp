// What an idle proxied connection holds, part by part: printed so that a
// change that grows the idle state shows in the test log. The budgets are
// what bench/idle_rss.py's per-connection figure is made of; nothing here
// measures time.
#include <gtest/gtest.h>

#include <cstdio>

#include "io/loop.h"
#include "io/send_queue.h"
#include "io/timer_wheel.h"
#include "proxy/session/session.h"
#include "proxy/transport/socket_connection.h"
#include "proxy/transport/tls_connection.h"
#include "proxy/ws/frame_parser.h"
#include "tls/record_layer.h"
#include "tls/stream.h"

namespace wsedge::proxy {
namespace {

struct Part {
  const char* name;
  std::size_t bytes;
};

void print(const char* title, std::initializer_list<Part> parts) {
  std::printf("%s\n", title);
  for (const Part& p : parts) std::printf("  %-34s %5zu B\n", p.name, p.bytes);
}

TEST(IdleState, SizeOfEachPartOfAProxiedConnection) {
  print("a session (one per proxied connection):",
        {{"Session", sizeof(Session)},
         {"  ClientLeg", sizeof(ClientLeg)},
         {"  BackendLeg", sizeof(BackendLeg)},
         {"  Tunnel", sizeof(Tunnel)},
         {"    ClientToBackend (Relay)", sizeof(ClientToBackend)},
         {"    BackendToClient (Relay)", sizeof(BackendToClient)},
         {"      FrameParser", sizeof(ws::FrameParser<ws::Role::kServer>)},
         {"      FrameParserOptions", sizeof(ws::FrameParserOptions)},
         {"      FrameHeader", sizeof(ws::FrameHeader)},
         {"  io::Timer", sizeof(io::Timer)}});
  print("each of its two sockets:",
        {{"io::Loop connection state", io::Loop::connectionStateSize()},
         {"  io::SendQueue", sizeof(io::SendQueue)},
         {"  io::SocketAddress", sizeof(io::SocketAddress)},
         {"transport::SocketConnection", sizeof(transport::SocketConnection)}});
  print("the client's TLS, wss only:",
        {{"transport::TlsConnection", sizeof(transport::TlsConnection)},
         {"  tls::TlsStream", sizeof(tls::TlsStream)},
         {"tls::RecordLayer", sizeof(tls::RecordLayer)}});
  SUCCEED();
}

}  // namespace
}  // namespace wsedge::proxy
