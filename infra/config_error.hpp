#pragma once

// What loading a configuration yields: the configuration, or every problem with its position
// (`FILE:LINE:COLUMN: message`, CONTRACT.md section 2). Read by infra/config_reader.hpp.

#include <optional>
#include <string>
#include <vector>

namespace c4c::infra {

/// One problem found while loading. `line`/`column` are 1-based, 0 where no position applies.
struct ConfigError {
    std::string file;
    int line = 0;
    int column = 0;
    std::string message;
    /// `FILE:LINE:COLUMN: message`, or `FILE: message` without a position.
    std::string format() const;
};

/// A configuration of type T, or the problems that kept it from loading.
template <class T>
struct ConfigLoad {
    std::optional<T> config;  ///< set when `errors` is empty
    std::vector<ConfigError> errors;
};

}  // namespace c4c::infra
