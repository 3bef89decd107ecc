// How the runtime reports what an operator should hear of (an accept that
// failed, a kernel feature missing): one line through a sink the program
// installs, its logger, so that io/ never writes to a descriptor that could
// block a worker. Until one is installed, lines go to stderr.
#pragma once

namespace wsedge::io {

using NoticeSink = void (*)(const char* line);

/// Installs the sink (before the workers start).
void setNoticeSink(NoticeSink sink);

/// One line, printf-style, without the newline.
void notice(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace wsedge::io
