#include "tresse/common/json_schema.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "tresse/common/event.hpp"

namespace tresse::json_schema {
namespace {

using json = nlohmann::json;
using namespace std::string_view_literals;

constexpr std::array kChecked = {"$ref"sv,     "type"sv,    "enum"sv,      "const"sv,
                                 "required"sv, "properties"sv, "additionalProperties"sv,
                                 "items"sv,    "minimum"sv, "maximum"sv,   "minLength"sv,
                                 "maxLength"sv, "format"sv};
constexpr std::array kAnnotations = {"$schema"sv, "$id"sv,          "$defs"sv,   "$comment"sv,
                                     "title"sv,   "description"sv, "examples"sv, "default"sv};

// The keyword outside the subset that `schema` (or a schema inside it) uses, if any.
std::optional<std::string> unsupported(const json& schema) {
  if (schema.is_boolean()) return std::nullopt;
  if (!schema.is_object()) return std::string("(a schema that is not an object)");
  for (const auto& [key, sub] : schema.items()) {
    if (!supported_keyword(key)) return key;
    if (key == "format" && sub != "date-time") return "format " + sub.dump();
    if (key == "properties" || key == "$defs") {
      for (const auto& [name, s] : sub.items()) {
        if (auto bad = unsupported(s)) return bad;
      }
    }
    if (key == "additionalProperties" || key == "items") {
      if (auto bad = unsupported(sub)) return bad;
    }
  }
  return std::nullopt;
}

std::string type_of(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool is_type(const json& v, std::string_view name) {
  if (name == "integer") {
    if (v.is_number_integer() || v.is_number_unsigned()) return true;
    // 1.0 is an integer too, as JSON Schema (and Ajv) count it.
    return v.is_number_float() && std::isfinite(v.get<double>()) &&
           std::floor(v.get<double>()) == v.get<double>();
  }
  if (name == "number") return v.is_number();
  return type_of(v) == name;
}

// Code points of a UTF-8 string (the unit of minLength and maxLength).
std::size_t code_points(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string number_text(const json& n) { return n.dump(); }

class checker {
 public:
  explicit checker(const registry& refs) : refs_(refs) {}

  std::optional<std::string> check(const json& schema, const json& v, const std::string& path,
                                   int depth) {
    if (depth > 32) return path + ": schema nested too deeply";
    if (schema.is_boolean()) {
      if (schema.get<bool>()) return std::nullopt;
      return path + ": not allowed";
    }
    if (auto it = schema.find("$ref"); it != schema.end()) {
      const json* target = refs_.find(it->get<std::string>());
      if (target == nullptr) return path + ": unresolved $ref " + it->get<std::string>();
      if (auto why = check(*target, v, path, depth + 1)) return why;
    }
    if (auto it = schema.find("type"); it != schema.end()) {
      const bool ok = it->is_string() ? is_type(v, it->get<std::string>())
                                      : std::any_of(it->begin(), it->end(), [&](const json& t) {
                                          return is_type(v, t.get<std::string>());
                                        });
      if (!ok) return path + ": expected " + expected_type(schema);
    }
    if (auto it = schema.find("format"); it != schema.end() && v.is_string()) {
      if (!tresse::events::is_rfc3339(v.get<std::string>())) {
        return path + ": expected " + expected_type(schema);
      }
    }
    if (auto it = schema.find("const"); it != schema.end() && v != *it) {
      return path + ": expected " + it->dump();
    }
    if (auto it = schema.find("enum"); it != schema.end()) {
      if (std::find(it->begin(), it->end(), v) == it->end()) {
        std::string list;
        for (const auto& e : *it) list += (list.empty() ? "" : ", ") + e.dump();
        return path + ": expected one of " + list;
      }
    }
    if (v.is_number()) {
      if (auto it = schema.find("minimum"); it != schema.end() && v.get<double>() < it->get<double>()) {
        return path + ": expected at least " + number_text(*it);
      }
      if (auto it = schema.find("maximum"); it != schema.end() && v.get<double>() > it->get<double>()) {
        return path + ": expected at most " + number_text(*it);
      }
    }
    if (v.is_string()) {
      const auto n = code_points(v.get_ref<const std::string&>());
      if (auto it = schema.find("minLength"); it != schema.end() && n < it->get<std::size_t>()) {
        return path + ": expected at least " + number_text(*it) + " characters";
      }
      if (auto it = schema.find("maxLength"); it != schema.end() && n > it->get<std::size_t>()) {
        return path + ": expected at most " + number_text(*it) + " characters";
      }
    }
    if (v.is_object()) return check_object(schema, v, path, depth);
    if (v.is_array()) {
      if (auto it = schema.find("items"); it != schema.end()) {
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (auto why = check(*it, v[i], path + "[" + std::to_string(i) + "]", depth + 1)) return why;
        }
      }
    }
    return std::nullopt;
  }

 private:
  std::optional<std::string> check_object(const json& schema, const json& v,
                                          const std::string& path, int depth) {
    if (auto it = schema.find("required"); it != schema.end()) {
      for (const auto& name : *it) {
        if (!v.contains(name.get<std::string>())) {
          return path + "." + name.get<std::string>() + ": required field missing";
        }
      }
    }
    const auto props = schema.find("properties");
    const auto additional = schema.find("additionalProperties");
    for (const auto& [name, value] : v.items()) {
      const std::string at = path + "." + name;
      if (props != schema.end()) {
        if (auto p = props->find(name); p != props->end()) {
          if (auto why = check(*p, value, at, depth + 1)) return why;
          continue;
        }
      }
      if (additional == schema.end()) continue;
      if (additional->is_boolean() && !additional->get<bool>()) return at + ": unknown field";
      if (auto why = check(*additional, value, at, depth + 1)) return why;
    }
    return std::nullopt;
  }

  // "string (date-time)", "string or null", "integer".
  static std::string expected_type(const json& schema) {
    std::string out;
    if (auto it = schema.find("type"); it != schema.end()) {
      if (it->is_string()) {
        out = it->get<std::string>();
      } else {
        for (const auto& t : *it) out += (out.empty() ? "" : " or ") + t.get<std::string>();
      }
    } else {
      out = "string";
    }
    if (auto f = schema.find("format"); f != schema.end()) out += " (" + f->get<std::string>() + ")";
    return out;
  }

  const registry& refs_;
};

}  // namespace

bool supported_keyword(std::string_view keyword) {
  return std::find(kChecked.begin(), kChecked.end(), keyword) != kChecked.end() ||
         std::find(kAnnotations.begin(), kAnnotations.end(), keyword) != kAnnotations.end();
}

status registry::add(const json& schema) {
  if (!schema.is_object() || !schema.contains("$id") || !schema["$id"].is_string()) {
    return fail(error_kind::permanent, "a schema without an $id");
  }
  const std::string id = schema["$id"];
  if (auto bad = unsupported(schema)) {
    return fail(error_kind::permanent, "schema " + id + " uses " + *bad +
                                           ", which the validator does not support");
  }
  if (by_id_.contains(id)) return fail(error_kind::permanent, "schema " + id + " added twice");
  if (auto defs = schema.find("$defs"); defs != schema.end()) {
    for (const auto& [name, def] : defs->items()) {
      if (def.contains("$id")) {
        if (auto st = add(def); !st) return st;
      }
    }
  }
  by_id_.emplace(id, schema);
  return {};
}

const json* registry::find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

std::optional<std::string> validate(const registry& refs, const json& schema, const json& value,
                                    std::string_view root) {
  return checker(refs).check(schema, value, std::string(root), 0);
}

}  // namespace tresse::json_schema
