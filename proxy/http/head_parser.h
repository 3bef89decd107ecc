// Incremental parser for an HTTP/1.1 message head: the start line and the
// header fields up to the empty line (RFC 9112 §2-5). It accepts input split
// at any byte, enforces caps as the bytes arrive (not after), and rejects
// what request smuggling is made of: bare LF, obs-fold, control characters in
// values, whitespace before the colon.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsedge::http {

struct HeadLimits {
  std::size_t maxStartLine = 8192;    // bytes, CRLF included
  std::size_t maxFieldBytes = 16384;  // all field lines together, CRLFs included
  std::size_t maxFields = 100;
};

enum class HeadError : std::uint8_t {
  kNone,
  kStartLineTooLong,
  kFieldsTooLarge,
  kTooManyFields,
  kBareLf,         // a line ended in LF without CR
  kBareCr,         // a CR not followed by LF
  kObsFold,        // a field line starting with whitespace
  kBadFieldName,   // empty, non-token, or whitespace before the colon
  kBadFieldValue,  // CTL or NUL in a value
};

struct Field {
  std::string_view name;
  std::string_view value;  // leading and trailing whitespace removed
};

class HeadParser {
 public:
  enum class State : std::uint8_t { kIncomplete, kComplete, kError };

  explicit HeadParser(HeadLimits limits = {}) : limits_(limits) {}

  /// Consumes bytes up to and including the empty line that ends the head;
  /// bytes after it are left to the caller. Returns the number consumed.
  std::size_t feed(std::string_view in);

  State state() const { return state_; }
  HeadError error() const { return error_; }

  // Valid once state() is kComplete (views into the parser's own storage).
  std::string_view startLine() const;
  std::size_t fieldCount() const { return fields_.size(); }
  Field field(std::size_t i) const;
  /// The first field with this name (case-insensitive), if any.
  std::optional<std::string_view> find(std::string_view name) const;
  /// How many fields carry this name.
  std::size_t count(std::string_view name) const;
  /// Bytes of the whole head, start line to the empty line.
  std::size_t headBytes() const { return buf_.size(); }

 private:
  struct Span {
    std::uint32_t nameOff, nameLen, valueOff, valueLen;
  };
  void fail(HeadError e) {
    error_ = e;
    state_ = State::kError;
  }
  void endLine();
  bool addField(std::size_t begin, std::size_t end);

  HeadLimits limits_;
  State state_ = State::kIncomplete;
  HeadError error_ = HeadError::kNone;
  bool inStartLine_ = true;
  std::size_t lineStart_ = 0;
  std::size_t startLineEnd_ = 0;
  std::string buf_;
  std::vector<Span> fields_;
};

/// Case-insensitive ASCII comparison.
bool equalsIgnoreCase(std::string_view a, std::string_view b);

/// Whether a comma-separated list (#token, RFC 9110 §5.6.1) contains token,
/// case-insensitively. Empty elements are ignored.
bool listContainsToken(std::string_view list, std::string_view token);

/// Calls fn for each non-empty element of a comma-separated list, trimmed.
template <class Fn>
void forEachListElement(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

/// RFC 9110 tchar.
bool isTokenChar(char c);
bool isToken(std::string_view s);

}  // namespace wsedge::http
