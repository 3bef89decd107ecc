// Loading the YAML configuration. Every error is one line,
// "file:line:col: what is wrong", and unknown keys are refused (with the
// closest known key suggested) rather than ignored.
#pragma once

#include <stdexcept>
#include <string>

#include "conf/config.h"

namespace YAML {
class Node;
}

namespace wsedge::conf {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws ConfigError.
Config loadConfig(const std::string& path);
/// The same from text; `name` stands for the file in messages.
Config loadConfigFromString(const std::string& yaml, const std::string& name = "<config>");
Config parseConfig(const YAML::Node& root, const std::string& file);

}  // namespace wsedge::conf
