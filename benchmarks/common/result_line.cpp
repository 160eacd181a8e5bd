// result_line.cpp: see result_line.hpp.
#include "result_line.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

namespace bench {

std::string json_line(const fields& f) {
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  for (const auto& [name, value] : f) {
    std::visit([&line, &name](const auto& v) { line[name] = v; }, value);
  }
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

double rounded(double x, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(x * scale) / scale;
}

}  // namespace bench
