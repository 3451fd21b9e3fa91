#include "tresse/common/event_catalog.hpp"

#include <algorithm>
#include <map>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tresse/common/json_schema.hpp"

namespace tresse::events {

// common/schemas/, as CMake embedded it (schema_files.cpp.in).
std::span<const std::pair<std::string_view, std::string_view>> embedded_schema_files();

namespace {

using json = nlohmann::json;

struct catalog {
  json_schema::registry refs;
  std::map<std::string, catalog_entry, std::less<>> entries;
};

// Loaded once from the embedded files. They are checked in and tested, so a broken one is a
// build defect: it throws on first use (at start-up in practice).
const catalog& loaded() {
  static const catalog c = [] {
    catalog out;
    std::map<std::string, json> by_id;
    std::vector<json> event_schemas;
    for (const auto& [path, text] : embedded_schema_files()) {
      json schema = json::parse(text);
      if (auto st = out.refs.add(schema); !st) {
        throw std::logic_error(std::string(path) + ": " + st.error().message);
      }
      by_id[schema["$id"].get<std::string>()] = schema;
      if (path.starts_with("events/")) event_schemas.push_back(std::move(schema));
    }
    for (auto& schema : event_schemas) {
      const std::string id = schema["$id"];
      const std::string type = id.substr(id.rfind('/') + 1, id.size() - id.rfind('/') - 6);
      // Bundled (JSON Schema 2020-12 compound document): what a $ref names goes under $defs
      // with its own $id, so any validator resolves it without fetching anything.
      if (auto ref = schema.find("$ref"); ref != schema.end()) {
        auto target = by_id.find(ref->get<std::string>());
        if (target == by_id.end()) throw std::logic_error(id + ": unresolved $ref");
        json def = target->second;
        def.erase("$schema");
        const std::string name = target->first.substr(target->first.rfind('/') + 1);
        schema["$defs"][name.substr(0, name.size() - 5)] = std::move(def);
      }
      json example = schema.contains("examples") ? schema["examples"][0] : json::object();
      const auto known = std::find(known_types.begin(), known_types.end(), type);
      if (known == known_types.end()) throw std::logic_error(id + ": not a known event type");
      out.entries.emplace(type, catalog_entry{*known, std::move(schema), std::move(example)});
    }
    for (auto t : known_types) {
      if (!out.entries.contains(t)) throw std::logic_error("no schema for " + std::string(t));
    }
    return out;
  }();
  return c;
}

}  // namespace

const catalog_entry* catalog_entry_for(std::string_view type) {
  const auto& c = loaded();
  auto it = c.entries.find(type);
  return it == c.entries.end() ? nullptr : &it->second;
}

std::optional<std::string> check_data(std::string_view type, const json& data) {
  const auto* entry = catalog_entry_for(type);
  if (entry == nullptr) return "unknown event type '" + std::string(type) + "'";
  return json_schema::validate(loaded().refs, entry->schema, data, "data");
}

std::optional<std::string> check_data(const event& ev) {
  json parsed = json::parse(ev.raw, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("data")) return "data: missing";
  return check_data(ev.type, parsed["data"]);
}

}  // namespace tresse::events
