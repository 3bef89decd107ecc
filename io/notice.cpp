#include "io/notice.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace wsedge::io {
namespace {

void toStderr(const char* line) {
  std::fprintf(stderr, "wsedge: %s\n", line);
}

std::atomic<NoticeSink> gSink{toStderr};

}  // namespace

void setNoticeSink(NoticeSink sink) {
  gSink.store(sink ? sink : toStderr);
}

void notice(const char* format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  gSink.load()(line);
}

}  // namespace wsedge::io
