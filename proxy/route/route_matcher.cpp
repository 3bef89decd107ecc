#include "proxy/route/route_matcher.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>

#include "proxy/http/query.h"

namespace wsedge::proxy {

bool pathPrefixMatches(std::string_view prefix, std::string_view path) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || prefix.back() == '/' || path[prefix.size()] == '/';
}

std::string rewritePath(std::string_view path, std::string_view prefix,
                        std::string_view replacement) {
  std::string_view rest = path.substr(prefix.size());
  std::string out(replacement);
  // "/v2/" + "/x" or "/" + "/x": one slash between them, not two.
  if (!out.empty() && out.back() == '/' && !rest.empty() && rest.front() == '/') {
    rest.remove_prefix(1);
  }
  if (out.empty() || (out.back() != '/' && !rest.empty() && rest.front() != '/')) out += '/';
  out += rest;
  return out;
}

std::string hostName(std::string_view field) {
  std::string_view host = field;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  std::string out(host);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

RouteMatcher::RouteMatcher(const conf::RouteMatch& m)
    : path_(m.path),
      prefix_(m.pathPrefix),
      headers_(m.headers),
      queries_(m.queries),
      subprotocol_(m.subprotocol),
      upgrade_(m.upgrade) {
  if (m.pathRegex) {
    regex_ = std::make_unique<re2::RE2>("^(?:" + *m.pathRegex + ")$", re2::RE2::Quiet);
    regexRange_ = regex_->PossibleMatchRange(&regexMin_, &regexMax_, 64);
  }
  if (m.host) {
    hostWildcard_ = m.host->rfind("*.", 0) == 0;
    host_ = hostWildcard_ ? m.host->substr(1) : *m.host;
    // RouteMatch::host is "any case"; the request's side is lowered by hostName().
    for (char& c : host_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
}

RouteMatcher::~RouteMatcher() = default;
RouteMatcher::RouteMatcher(RouteMatcher&&) noexcept = default;
RouteMatcher& RouteMatcher::operator=(RouteMatcher&&) noexcept = default;

bool RouteMatcher::matches(const RequestView& r) const {
  if (upgrade_ && *upgrade_ != r.upgrade) return false;
  if (path_ && r.path != *path_) return false;
  if (prefix_ && !pathPrefixMatches(*prefix_, r.path)) return false;
  if (regex_) {
    if (regexRange_ && (r.path < regexMin_ || r.path > regexMax_)) return false;
    if (!re2::RE2::FullMatch(re2::StringPiece(r.path.data(), r.path.size()), *regex_)) return false;
  }
  if (!host_.empty()) {
    const std::string_view host = r.host;
    if (hostWildcard_) {
      if (host.size() <= host_.size() ||
          host.compare(host.size() - host_.size(), host_.size(), host_) != 0) {
        return false;
      }
    } else if (host != host_) {
      return false;
    }
  }
  for (const conf::HeaderMatch& h : headers_) {
    bool found = false;
    for (std::size_t i = 0; r.head && i < r.head->fieldCount() && !found; ++i) {
      const http::Field f = r.head->field(i);
      found = http::equalsIgnoreCase(f.name, h.name) && f.value == h.value;
    }
    if (!found) return false;
  }
  for (const conf::HeaderMatch& q : queries_) {
    bool found = false;
    http::forEachQueryParameter(r.query, q.name,
                                [&](const std::string& v) { found = found || v == q.value; });
    if (!found) return false;
  }
  if (subprotocol_ && std::find(r.subprotocols.begin(), r.subprotocols.end(), *subprotocol_) ==
                          r.subprotocols.end()) {
    return false;
  }
  return true;
}

}  // namespace wsedge::proxy
