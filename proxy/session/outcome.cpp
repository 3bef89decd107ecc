#include "proxy/session/outcome.h"

#include <array>

namespace wsedge::proxy {
namespace {

std::string closeText(const CloseRecord& c) {
  if (c.code == 0) return "-";
  std::string s = std::to_string(c.code);
  if (c.reason.empty()) return s;
  // A peer's reason: one line whatever it holds.
  s += " '";
  for (char ch : c.reason) s += static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f ? '?' : ch;
  return s + "'";
}

}  // namespace

std::string_view sideName(Side side) {
  constexpr std::array<std::string_view, 4> kNames{"none", "client", "backend", "proxy"};
  return kNames[static_cast<std::size_t>(side)];
}

std::string_view causeName(Cause cause) {
  constexpr std::array<std::string_view, kCauseCount> kNames{
      "normal close", "refused", "protocol error", "timeout", "transport error", "shutdown",
      "send stalled", "no pong", "over rate",      "drained", "push queue full"};
  return kNames[static_cast<std::size_t>(cause)];
}

std::string SessionRecord::describe() const {
  std::string s = "session ended by " + std::string(sideName(endedBy)) + " (" +
                  std::string(causeName(cause)) + "): status " + std::to_string(status);
  s += ", listener " + std::string(listener.empty() ? "-" : listener);
  s += ", pool " + std::string(pool.empty() ? "-" : pool);
  s += ", backend " + std::string(backend.empty() ? "-" : backend);
  s += ", attempts " + std::to_string(attempts) + (retryAllowed ? " (retry allowed)" : "");
  s += ", close from client " + closeText(fromClient) + " to backend " + closeText(toBackend);
  s += ", from backend " + closeText(fromBackend) + " to client " + closeText(toClient);
  s += ", closed first by " + std::string(sideName(closedFirst));
  s += ", client->backend " + std::to_string(messagesFromClient) + " msgs " +
       std::to_string(bytesFromClient) + " B";
  s += ", backend->client " + std::to_string(messagesFromBackend) + " msgs " +
       std::to_string(bytesFromBackend) + " B";
  s += ", " + std::to_string(durationMs) + " ms, generation " + std::to_string(generation);
  return s;
}

}  // namespace wsedge::proxy
