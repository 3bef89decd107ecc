// Loading the YAML configuration. Every error is one line,
// "file:line:col: what is wrong", every error in a file is reported (not
// just the first), and unknown keys are refused (with the closest known key
// suggested) rather than ignored.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "conf/config.h"

namespace YAML {
class Node;
}

namespace wsedge::conf {

/// Every error found, one line each ("file:line:col: what is wrong"), in
/// file order; what() holds them joined by newlines.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& line) : ConfigError(std::vector<std::string>{line}) {}
  explicit ConfigError(std::vector<std::string> errors);
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  static std::string join(const std::vector<std::string>& lines);
  std::vector<std::string> errors_;
};

/// Throws ConfigError with every error in the file.
Config loadConfig(const std::string& path);
/// The same from text; `name` stands for the file in messages.
Config loadConfigFromString(const std::string& yaml, const std::string& name = "<config>");
Config parseConfig(const YAML::Node& root, const std::string& file);

}  // namespace wsedge::conf
