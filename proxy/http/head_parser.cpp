#include "proxy/http/head_parser.h"

#include <cstring>

namespace wsedge::http {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// VCHAR, obs-text, SP and HTAB. Everything else (CTL, NUL, DEL) is refused.
bool isFieldValueChar(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7F);
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool listContainsToken(std::string_view list, std::string_view token) {
  bool found = false;
  forEachListElement(
      list, [&](std::string_view item) { found = found || equalsIgnoreCase(item, token); });
  return found;
}

bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

std::size_t HeadParser::feed(std::string_view in) {
  std::size_t used = 0;
  while (state_ == State::kIncomplete && used < in.size()) {
    const char* start = in.data() + used;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', in.size() - used));
    const std::size_t take = nl ? static_cast<std::size_t>(nl - start) + 1 : in.size() - used;
    // Enforce the caps before storing anything, so a flood of bytes with no
    // line end is refused as soon as it passes the cap.
    const std::size_t lineSoFar = buf_.size() - lineStart_ + take;
    if (inStartLine_ && lineSoFar > limits_.maxStartLine) {
      fail(HeadError::kStartLineTooLong);
      break;
    }
    if (!inStartLine_ && buf_.size() - startLineEnd_ + take > limits_.maxFieldBytes) {
      fail(HeadError::kFieldsTooLarge);
      break;
    }
    buf_.append(start, take);
    used += take;
    if (nl) endLine();
  }
  return used;
}

void HeadParser::endLine() {
  const std::size_t end = buf_.size();  // just past the LF
  if (end - lineStart_ < 2 || buf_[end - 2] != '\r') return fail(HeadError::kBareLf);
  const std::size_t contentEnd = end - 2;
  if (std::memchr(buf_.data() + lineStart_, '\r', contentEnd - lineStart_)) {
    return fail(HeadError::kBareCr);
  }
  if (inStartLine_) {
    inStartLine_ = false;
    startLineEnd_ = end;
  } else if (contentEnd == lineStart_) {
    state_ = State::kComplete;
  } else if (!addField(lineStart_, contentEnd)) {
    return;
  }
  lineStart_ = end;
}

bool HeadParser::addField(std::size_t begin, std::size_t end) {
  const std::string_view line(buf_.data() + begin, end - begin);
  if (line.front() == ' ' || line.front() == '\t') return fail(HeadError::kObsFold), false;
  if (fields_.size() == limits_.maxFields) return fail(HeadError::kTooManyFields), false;
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || !isToken(line.substr(0, colon))) {
    return fail(HeadError::kBadFieldName), false;
  }
  std::size_t v = colon + 1;
  std::size_t ve = line.size();
  while (v < ve && (line[v] == ' ' || line[v] == '\t')) ++v;
  while (ve > v && (line[ve - 1] == ' ' || line[ve - 1] == '\t')) --ve;
  for (std::size_t i = v; i < ve; ++i) {
    if (!isFieldValueChar(static_cast<unsigned char>(line[i]))) {
      return fail(HeadError::kBadFieldValue), false;
    }
  }
  fields_.push_back({static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(colon),
                     static_cast<std::uint32_t>(begin + v), static_cast<std::uint32_t>(ve - v)});
  return true;
}

std::string_view HeadParser::startLine() const {
  return startLineEnd_ < 2 ? std::string_view{} : std::string_view(buf_.data(), startLineEnd_ - 2);
}

Field HeadParser::field(std::size_t i) const {
  const Span& s = fields_[i];
  return {{buf_.data() + s.nameOff, s.nameLen}, {buf_.data() + s.valueOff, s.valueLen}};
}

std::optional<std::string_view> HeadParser::find(std::string_view name) const {
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    const Field f = field(i);
    if (equalsIgnoreCase(f.name, name)) return f.value;
  }
  return std::nullopt;
}

std::size_t HeadParser::count(std::string_view name) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < fields_.size(); ++i) n += equalsIgnoreCase(field(i).name, name);
  return n;
}

}  // namespace wsedge::http
