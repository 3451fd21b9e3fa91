// A JSON Schema (2020-12) validator for the subset the event catalog's schemas use
// (common/schemas/): no Debian 12 package validates JSON Schema in C++, and the catalog needs
// only this much. Supported keywords:
//
//   $ref (to a schema added to the registry, by its absolute $id), type (one name or an array
//   of names: "null" in the array makes a field nullable; "integer" includes 1.0), enum, const,
//   required, properties, additionalProperties (true, false or a schema), items, minimum,
//   maximum, minLength, maxLength (in code points), format "date-time" (RFC 3339, checked as
//   tresse::events::is_rfc3339 checks it).
//
// Annotations ($schema, $id, $defs, title, description, examples) are ignored. Any other
// keyword is refused when the schema is added (supported_keyword), so that a schema never
// seems to constrain what this validator does not check; tests/api/catalog.mjs checks that
// it and Ajv agree.
//
//   tresse::json_schema::registry schemas;
//   schemas.add(appointment_schema);                        // by its "$id"
//   auto why = tresse::json_schema::validate(schemas, event_schema, data, "data");
//   // why == "data.starts_at: expected string (date-time)", or nullopt when data matches
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "tresse/common/result.hpp"

namespace tresse::json_schema {

// True for the keywords this validator checks or ignores as annotations.
bool supported_keyword(std::string_view keyword);

// Schemas by their $id, for $ref. A schema's $defs with an $id of their own are added too.
class registry {
 public:
  // A permanent error naming the keyword when the schema uses one outside the subset, or
  // naming the $id when it has none or one already added.
  status add(const nlohmann::json& schema);
  const nlohmann::json* find(std::string_view id) const;

 private:
  std::map<std::string, nlohmann::json, std::less<>> by_id_;
};

// The first way `value` fails `schema`, as "<path>: <what>" (the path starts at `root`:
// "data.starts_at", "data.items[2]"), or nullopt when it matches. What: "expected string
// (date-time)", "required field missing", "unknown field", "expected one of \"a\", \"b\"",
// "expected \"canceled\"", "expected at least 0", "expected at most 4000 characters", or
// "unresolved $ref <id>".
std::optional<std::string> validate(const registry& refs, const nlohmann::json& schema,
                                    const nlohmann::json& value, std::string_view root = "data");

}  // namespace tresse::json_schema
