#include "proxy/http/query.h"

#include "proxy/http/target.h"

namespace wsedge::http {

std::optional<std::string> decodeQueryComponent(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = hexValue(in[i + 1]), lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::optional<std::string> queryParameter(std::string_view query, std::string_view name) {
  std::optional<std::string> found;
  forEachQueryParameter(query, name, [&](const std::string& v) {
    if (!found) found = v;
  });
  return found;
}

std::optional<std::string_view> cookieValue(const HeadParser& head, std::string_view name) {
  for (std::size_t i = 0; i < head.fieldCount(); ++i) {
    const Field f = head.field(i);
    if (!equalsIgnoreCase(f.name, "Cookie")) continue;
    // cookie-string = cookie-pair *( ";" SP cookie-pair ) (RFC 6265 §4.2.1)
    std::string_view rest = f.value;
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
      std::string_view value = pair.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace wsedge::http
