// A map keyed by std::string that is looked up by std::string_view without building a string
// (heterogeneous lookup: a transparent hash and std::equal_to<>).
//
//   tresse::string_map<int> m;
//   m.find(std::string_view("ep_1"));   // no allocation
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tresse {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <class Value>
using string_map = std::unordered_map<std::string, Value, string_hash, std::equal_to<>>;

}  // namespace tresse
