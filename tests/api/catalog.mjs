// The event catalog (common/schemas/) checked with Ajv, an implementation nobody here wrote:
//
//   node tests/api/catalog.mjs <source dir> <tresse-publish binary>
//
// 1. every schema is valid JSON Schema 2020-12 and compiles (strict mode, formats checked);
// 2. every event schema's example, and every event scripts/try publishes (scripts/try-events),
//    matches its type's schema;
// 3. our validator (tresse-publish --validate, tresse/common/json_schema.hpp) and Ajv agree on
//    a set of good and bad payloads made from the examples: the same ones are refused.
//
// Prints one line per problem and a summary. Exit 0: all good; 1: a problem; 2: usage.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let Ajv2020, addFormats;
try {
  Ajv2020 = (await import("ajv/dist/2020.js")).default;
  addFormats = (await import("ajv-formats")).default;
} catch {
  console.error("catalog.mjs: ajv is not installed: run `npm ci` in tests/api");
  process.exit(2);
}

const [source, publish] = process.argv.slice(2);
if (!source || !publish) {
  console.error("usage: node catalog.mjs <source dir> <tresse-publish binary>");
  process.exit(2);
}

const problems = [];
const ajv = new Ajv2020({ strict: true, allErrors: false });
addFormats(ajv);
const schemaDir = join(source, "common", "schemas");
const events = new Map();  // type -> schema
for (const sub of ["resources", "events"]) {
  for (const file of readdirSync(join(schemaDir, sub)).filter((f) => f.endsWith(".json")).sort()) {
    const schema = JSON.parse(readFileSync(join(schemaDir, sub, file), "utf8"));
    try {
      ajv.addSchema(schema);
    } catch (e) {
      problems.push(`${sub}/${file}: ${e.message}`);
    }
    if (sub === "events") events.set(file.replace(/\.json$/, ""), schema);
  }
}

function verdict(type, data) {
  let validate;
  try {
    validate = ajv.getSchema(events.get(type).$id);
  } catch (e) {
    return `the schema does not compile: ${e.message}`;
  }
  return validate(data) ? null : ajv.errorsText(validate.errors);
}

// 1 + 2: the examples and scripts/try's events.
for (const [type, schema] of events) {
  try {
    ajv.getSchema(schema.$id);
  } catch (e) {
    problems.push(`events/${type}.json does not compile: ${e.message}`);
    continue;
  }
  if (!Array.isArray(schema.examples) || schema.examples.length === 0) {
    problems.push(`events/${type}.json has no example`);
    continue;
  }
  const why = verdict(type, schema.examples[0]);
  if (why) problems.push(`events/${type}.json: its example does not match: ${why}`);
}
const tryLines = readFileSync(join(source, "scripts", "try-events"), "utf8")
  .split("\n")
  .filter((l) => l && !l.startsWith("#"));
if (tryLines.length === 0) problems.push("scripts/try-events lists no events");
for (const line of tryLines) {
  const bar = line.indexOf("|");
  const type = line.slice(0, bar);
  if (!events.has(type)) {
    problems.push(`scripts/try-events: unknown type ${type}`);
    continue;
  }
  const why = verdict(type, JSON.parse(line.slice(bar + 1)));
  if (why) problems.push(`scripts/try-events: a ${type} event does not match: ${why}`);
}

// 3: good and bad payloads, judged by Ajv and by tresse-publish --validate.
const cases = [];  // {type, data, what}
for (const [type, schema] of events) {
  const example = schema.examples?.[0];
  if (!example) continue;
  cases.push({ type, data: example, what: "the example" });
  cases.push({ type, data: { ...example, surprise: 1 }, what: "an unknown field" });
  cases.push({ type, data: [example], what: "an array" });
  for (const [field, value] of Object.entries(example)) {
    const without = { ...example };
    delete without[field];
    cases.push({ type, data: without, what: `without ${field}` });
    const swapped = typeof value === "string" ? 42 : typeof value === "number" ? String(value) : "x";
    cases.push({ type, data: { ...example, [field]: swapped }, what: `${field} of another type` });
    cases.push({ type, data: { ...example, [field]: null }, what: `${field} null` });
    if (typeof value === "number") {
      cases.push({ type, data: { ...example, [field]: -1 }, what: `${field} -1` });
      cases.push({ type, data: { ...example, [field]: 1e6 }, what: `${field} 1e6` });
      cases.push({ type, data: { ...example, [field]: value + 0.5 }, what: `${field} fractional` });
    }
    if (typeof value === "string") {
      cases.push({ type, data: { ...example, [field]: "" }, what: `${field} empty` });
      cases.push({ type, data: { ...example, [field]: "x".repeat(5000) }, what: `${field} long` });
      for (const t of ["yesterday", "2026-13-01T00:00:00Z", "2026-02-30T10:00:00Z",
                       "2026-04-19T10:32:00", "2026-04-19T10:32:00.5+02:00"]) {
        cases.push({ type, data: { ...example, [field]: t }, what: `${field} = ${t}` });
      }
      cases.push({ type, data: { ...example, [field]: "exploded" }, what: `${field} = exploded` });
    }
  }
}
const dir = mkdtempSync(join(tmpdir(), "tresse-catalog-"));
try {
  const file = join(dir, "events.jsonl");
  writeFileSync(file, cases.map((c, i) => JSON.stringify({
    id: `evt_c${i}`, type: c.type, business_id: "biz_catalog", livemode: true,
    timestamp: "2026-04-19T10:32:00Z", data: c.data,
  })).join("\n") + "\n");
  // No broker listens on port 1: only the refusals matter here, and they come first.
  let stderr = "";
  try {
    execFileSync(publish, ["--brokers", "127.0.0.1:1", "--validate", "--timeout", "1", "--file", file],
                 { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    stderr = e.stderr.toString();
  }
  const refused = new Map();
  for (const m of stderr.matchAll(/^line (\d+): refused: (.*)$/gm)) refused.set(Number(m[1]) - 1, m[2]);
  let agreed = 0;
  cases.forEach((c, i) => {
    const ajvSays = verdict(c.type, c.data);
    const ours = refused.get(i);
    if ((ajvSays === null) === (ours === undefined)) {
      agreed++;
      if (ours !== undefined && !/^data(\.|\[|:)|field 'data'/.test(ours)) {
        problems.push(`${c.type}, ${c.what}: the reason does not name the field: ${ours}`);
      }
    } else {
      problems.push(`${c.type}, ${c.what}: Ajv ${ajvSays === null ? "accepts" : `refuses (${ajvSays})`}, ` +
                    `tresse-publish ${ours === undefined ? "accepts" : `refuses (${ours})`}`);
    }
  });
  console.log(`${events.size} event schemas, ${tryLines.length} scripts/try events, ` +
              `${agreed}/${cases.length} payloads judged alike by Ajv and tresse-publish --validate`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

for (const p of problems) console.log(p);
console.log(problems.length === 0 ? "ok" : `${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);
