// program.hpp: the litmus language of litmus.json, parsed into a program that both dsm-litmus (which
// runs it on the DSM) and the oracle (which enumerates what each model allows) read. No MPI and no
// runtime: the oracle's unit tests use it alone. Not thread-safe to share a program being loaded;
// a loaded program is read-only.
//
// A program's "threads_ops" lists, per process, its operations:
//   ["W", loc, value]   write          ["R", loc, register]  read
//   ["L", lock]         acquire        ["S", lock]           acquire in shared (read) mode
//   ["U", lock]         release (of the acquire, exclusive or shared, that it closes)
//   ["B"]               barrier: every process must name the same number, in the same order
// "observed" names the outcome tuple: "i:reg" is register reg of Pi, "final:loc" the value of loc
// after the program's last barrier. Every location starts at 0. "ec_binding" maps a lock to the
// locations bound to it under entry consistency. "delay": [n0, n1, ...] makes the runner spin ni more
// iterations before Pi's accesses, to make an outcome that needs one order of the processes likely.
#ifndef DSM_TOOLS_LITMUS_PROGRAM_HPP_
#define DSM_TOOLS_LITMUS_PROGRAM_HPP_

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace litmus {

// litmus.json as nlohmann-json reads it: ordered_json keeps each object's members in file order
// (the order of ec_binding's locks, and of the keys an error message lists).
namespace json {
using value = nlohmann::ordered_json;
// The text parsed; std::runtime_error with the parser's message (and byte offset) if it is not JSON.
value parse(const std::string& text);
// The file at `path` parsed; std::runtime_error "cannot read <path>", or "<path>: " and the parser's
// message.
value parse_file(const std::string& path);
// The member `key` of an object, or null (also when v is not an object).
const value* find(const value& v, const std::string& key);
// The member `key` of an object; std::runtime_error("missing \"key\"") if it has none.
const value& at(const value& v, const std::string& key);
}  // namespace json

using outcome = std::vector<long>;

// A program the file describes badly: the message names the test and the problem.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct op {
  char kind;           // W R L S U B
  int loc = -1;        // W R
  long val = 0;        // W
  int reg = -1;        // R
  int lock = -1;       // L S U
  bool shared = false; // U: closes an S
};

struct observation {
  bool final = false;
  int proc = -1;
  int reg = -1;
  int loc = -1;
  std::string label;
};

struct program {
  std::string id;
  std::string cls;
  std::vector<std::vector<op>> procs;
  std::vector<std::string> locs;
  std::vector<std::string> locks;
  std::vector<std::vector<std::string>> regs;  // per process
  std::vector<observation> observed;
  std::vector<outcome> candidates;  // all_candidate_outcomes, if given
  std::vector<int> bound_lock;      // per location: the lock it is bound to under entry, or -1
  int barriers = 0;                 // barriers per process
  std::vector<long> delay;          // per process: extra spins before its accesses ("delay"), for the runner
  const json::value* raw = nullptr; // the test's JSON object (allowed_outcomes, ...)
};

// Parses one entry of "tests"; throws usage_error naming the test.
program load_program(const json::value& test);

// A JSON list of outcomes (lists of numbers); throws usage_error naming `where`.
std::vector<outcome> outcomes_of(const json::value& v, const std::string& where);

// The hand-written allowed outcomes of p for the model whose litmus.json key is `key` ("SC", "ERC",
// "LRC", "EC", ...), following conventions.allowed_sets: a list, or "SC", "ALL", "SC+interest".
// nullopt if the program lists nothing for that key; usage_error if what it lists is malformed.
std::optional<std::vector<outcome>> listed_outcomes(const program& p, const std::string& key);

// "(1,0)"
std::string show(const outcome& o);

// The text of one operation of process `proc`, as a person writes it: "data = 1", "r0 = flag",
// "lock(L)", "lock_shared(L)", "unlock(L)", "barrier".
std::string show(const program& p, int proc, const op& o);

}  // namespace litmus

#endif  // DSM_TOOLS_LITMUS_PROGRAM_HPP_
