// Web origins as allowed_origins writes them and as browsers send them
// (RFC 6454): scheme://host[:port], no path. Shared by the loader, which
// refuses what is not one, and by the origin check of each request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wsedge::conf {

struct Origin {
  std::string scheme;  // lower case, with its "://"
  std::string host;    // lower case; may start with "*." in a configured entry
  std::string port;    // ":8443", or empty
};

/// Empty if the text is not scheme://host[:port].
std::optional<Origin> parseOrigin(std::string_view text);

}  // namespace wsedge::conf
