// json.hpp: a small JSON reader for dsm-litmus (litmus.json): objects, arrays, strings (with the
// usual escapes; \u only for ASCII), numbers, true/false/null. parse() throws std::runtime_error with
// the byte offset of the first problem. Not a general-purpose library: no writer, no streaming.
#ifndef DSM_TOOLS_LITMUS_JSON_HPP_
#define DSM_TOOLS_LITMUS_JSON_HPP_

#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace litmus::json {

struct value {
  enum class kind { null, boolean, number, string, array, object } type = kind::null;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<value> items;                  // array
  std::vector<std::pair<std::string, value>> fields;  // object, in file order

  bool is_array() const { return type == kind::array; }
  bool is_object() const { return type == kind::object; }
  bool is_string() const { return type == kind::string; }
  bool is_number() const { return type == kind::number; }
  // The member `key` of an object, or null.
  const value* find(const std::string& key) const {
    for (const auto& [k, v] : fields)
      if (k == key) return &v;
    return nullptr;
  }
  const value& at(const std::string& key) const {
    const value* v = find(key);
    if (v == nullptr) throw std::runtime_error("missing \"" + key + "\"");
    return *v;
  }
};

class parser {
 public:
  explicit parser(const std::string& text) : t_(text) {}
  value parse() {
    value v = any();
    space();
    if (i_ != t_.size()) fail("text after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("JSON at byte " + std::to_string(i_) + ": " + why);
  }
  void space() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  char peek() {
    space();
    if (i_ >= t_.size()) fail("unexpected end");
    return t_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  bool word(const char* w) {
    const std::string s(w);
    if (t_.compare(i_, s.size(), s) != 0) return false;
    i_ += s.size();
    return true;
  }
  value any() {
    value v;
    const char c = peek();
    if (c == '{') {
      v.type = value::kind::object;
      ++i_;
      if (peek() == '}') return ++i_, v;
      for (;;) {
        if (peek() != '"') fail("expected a key");
        std::string k = str();
        expect(':');
        v.fields.emplace_back(std::move(k), any());
        if (peek() == ',') { ++i_; continue; }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.type = value::kind::array;
      ++i_;
      if (peek() == ']') return ++i_, v;
      for (;;) {
        v.items.push_back(any());
        if (peek() == ',') { ++i_; continue; }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.type = value::kind::string;
      v.s = str();
      return v;
    }
    if (word("true")) { v.type = value::kind::boolean; v.b = true; return v; }
    if (word("false")) { v.type = value::kind::boolean; return v; }
    if (word("null")) return v;
    const char* start = t_.c_str() + i_;
    char* end = nullptr;
    v.n = std::strtod(start, &end);
    if (end == start) fail("not a value");
    i_ += static_cast<std::size_t>(end - start);
    v.type = value::kind::number;
    return v;
  }
  std::string str() {
    expect('"');
    std::string out;
    while (i_ < t_.size() && t_[i_] != '"') {
      char c = t_[i_++];
      if (c == '\\') {
        if (i_ >= t_.size()) fail("unexpected end in a string");
        const char e = t_[i_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u': {
            if (i_ + 4 > t_.size()) fail("short \\u escape");
            const long code = std::strtol(t_.substr(i_, 4).c_str(), nullptr, 16);
            i_ += 4;
            c = code < 128 ? static_cast<char>(code) : '?';
            break;
          }
          default: c = e;  // \" \\ \/
        }
      }
      out += c;
    }
    if (i_ >= t_.size()) fail("unterminated string");
    ++i_;
    return out;
  }

  const std::string& t_;
  std::size_t i_ = 0;
};

inline value parse(const std::string& text) { return parser(text).parse(); }

}  // namespace litmus::json

#endif  // DSM_TOOLS_LITMUS_JSON_HPP_
