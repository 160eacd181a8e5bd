// result_line.hpp: the text of the one-line JSON object every benchmark prints after "RESULT "
// (bench.hpp's report, micro_common.hpp's print_row). Written with nlohmann-json in result_line.cpp,
// compiled once into the bench_result_line library instead of into every benchmark program.
#ifndef DSM_BENCHMARKS_COMMON_RESULT_LINE_HPP_
#define DSM_BENCHMARKS_COMMON_RESULT_LINE_HPP_

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace bench {

// A field's value: a JSON string, number (integer or not) or boolean.
using field_value = std::variant<std::string, long long, double, bool>;
using fields = std::vector<std::pair<std::string, field_value>>;

// The fields as one JSON object on one line, in the order given; invalid UTF-8 in a string is
// replaced, not thrown on.
std::string json_line(const fields& f);

// x rounded to `digits` decimals, so that a line prints 0.412 rather than 0.41200000000000003.
double rounded(double x, int digits);

}  // namespace bench

#endif  // DSM_BENCHMARKS_COMMON_RESULT_LINE_HPP_
