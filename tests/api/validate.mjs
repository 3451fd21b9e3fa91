// Checks recorded Management API responses against the OpenAPI document.
//
//   node tests/api/validate.mjs <openapi.json> <exchanges.json>
//
// exchanges.json is an array of
//   {"method": "GET", "path": "/v1/webhooks/we_abc?limit=2", "status": 200,
//    "headers": {"x-ratelimit-limit": "600", ...}, "body": <parsed JSON or null>}
//
// For each exchange: the operation whose path template matches (query string stripped), the
// response the spec lists for that status (an unlisted status is a failure), the body against
// that response's schema (Ajv, JSON Schema 2020-12, formats checked), and the response's
// headers: every required one present (names case-insensitive), every one present valid
// against its schema. A 404 on a path the spec does not have, or a 405 for a method a path does
// not have, is checked against components.responses.NotFound / MethodNotAllowed.
//
// The spec itself is checked first: it parses, `openapi` is 3.1.x, every $ref resolves (local
// refs only), every component schema is valid JSON Schema 2020-12, every response and header
// schema compiles.
//
// Prints one line per problem ("METHOD path status: what is wrong") and a summary.
// Exit 0: everything conforms; 1: at least one problem; 2: usage or unreadable input.
import { readFileSync } from "node:fs";

let Ajv2020, addFormats;
try {
  Ajv2020 = (await import("ajv/dist/2020.js")).default;
  addFormats = (await import("ajv-formats")).default;
} catch {
  const here = new URL(".", import.meta.url).pathname;
  console.error(
    `validate.mjs: ajv is not installed in ${here}node_modules.\n` +
      `Run scripts/test (it installs it), or: (cd ${here} && npm ci)`,
  );
  process.exit(2);
}

const SPEC_ID = "https://tresse.invalid/openapi.json";
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

function readJson(file, what) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    console.error(`validate.mjs: cannot read ${what} ${file}: ${e.message}`);
    process.exit(2);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    return { parseError: `${what} ${file} is not JSON: ${e.message}` };
  }
}

// JSON pointers: tokens <-> "#/a/b" fragments (RFC 6901, percent-encoded for use in a URI).
const encodeToken = (t) => encodeURIComponent(String(t).replace(/~/g, "~0").replace(/\//g, "~1"));
const pointerOf = (tokens) => "#/" + tokens.map(encodeToken).join("/");
function resolvePointer(doc, ref) {
  if (typeof ref !== "string" || !ref.startsWith("#")) return undefined;
  if (ref === "#") return { node: doc, tokens: [] };
  if (!ref.startsWith("#/")) return undefined;
  const tokens = ref
    .slice(2)
    .split("/")
    .map((t) => decodeURIComponent(t).replace(/~1/g, "/").replace(/~0/g, "~"));
  let node = doc;
  for (const t of tokens) {
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, t)) return undefined;
    node = node[t];
  }
  return { node, tokens };
}

// Follows $ref chains of OpenAPI objects (responses, headers, parameters).
function deref(doc, node, tokens) {
  const seen = new Set();
  while (node && typeof node === "object" && typeof node.$ref === "string") {
    if (seen.has(node.$ref)) return undefined;
    seen.add(node.$ref);
    const r = resolvePointer(doc, node.$ref);
    if (!r) return undefined;
    ({ node, tokens } = r);
  }
  return { node, tokens };
}

function checkSpec(spec) {
  const problems = [];
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    return ["spec: not a JSON object"];
  }
  if (typeof spec.openapi !== "string" || !/^3\.1\.\d+/.test(spec.openapi)) {
    problems.push(`spec: openapi is ${JSON.stringify(spec.openapi)}, expected 3.1.x`);
  }
  if (!spec.info || typeof spec.info !== "object") problems.push("spec: info is missing");
  if (!spec.paths || typeof spec.paths !== "object") problems.push("spec: paths is missing");
  const walk = (node, tokens) => {
    if (node === null || typeof node !== "object") return;
    if (typeof node.$ref === "string") {
      if (!node.$ref.startsWith("#")) {
        problems.push(`spec: $ref '${node.$ref}' at ${pointerOf(tokens)} is not local (unsupported)`);
      } else if (!resolvePointer(spec, node.$ref)) {
        problems.push(`spec: $ref '${node.$ref}' at ${pointerOf(tokens)} does not resolve`);
      }
    }
    for (const [k, v] of Object.entries(node)) walk(v, [...tokens, k]);
  };
  walk(spec, []);
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const op = item?.[method];
      if (op === undefined) continue;
      if (!op.responses || Object.keys(op.responses).length === 0) {
        problems.push(`spec: ${method.toUpperCase()} ${path} lists no responses`);
      }
    }
  }
  return problems;
}

function compileTemplates(spec) {
  const templates = [];
  for (const [template, item] of Object.entries(spec.paths)) {
    let params = 0;
    const source = template
      .split("/")
      .map((seg) =>
        seg.replace(/\{[^}]+\}|[^{]+/g, (part) => {
          if (part.startsWith("{")) {
            params++;
            return "([^/]+)";
          }
          return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        }),
      )
      .join("/");
    templates.push({ template, item, params, re: new RegExp(`^${source}$`) });
  }
  // The most literal template wins ("/v1/webhooks/x/test" over "/v1/webhooks/{id}/{y}").
  templates.sort((a, b) => a.params - b.params);
  return templates;
}

// Picks the response object for `status`: exact code, then "4XX", then "default".
function findResponse(responses, status) {
  const code = String(status);
  for (const key of [code, `${code[0]}XX`, `${code[0]}xx`, "default"]) {
    if (responses && Object.hasOwn(responses, key)) return key;
  }
  return undefined;
}

const mediaType = (v) => String(v).split(";")[0].trim().toLowerCase();

function formatAjvError(e, where) {
  const at = `${where}${e.instancePath}`;
  let detail = e.message;
  if (e.keyword === "additionalProperties") detail = `has unexpected property '${e.params.additionalProperty}'`;
  else if (e.keyword === "required") detail = `is missing required property '${e.params.missingProperty}'`;
  else if (e.keyword === "enum") detail = `must be one of ${JSON.stringify(e.params.allowedValues)}`;
  else if (e.keyword === "const") detail = `must be ${JSON.stringify(e.params.allowedValue)}`;
  return `${at} ${detail}`;
}

function main() {
  const [, , specFile, exchangesFile] = process.argv;
  if (!specFile || !exchangesFile) {
    console.error("usage: node validate.mjs <openapi.json> <exchanges.json>");
    process.exit(2);
  }
  const spec = readJson(specFile, "spec");
  if (spec?.parseError) {
    console.log(`spec: ${spec.parseError}`);
    console.log("FAIL: the spec is not usable");
    process.exit(1);
  }
  const specProblems = checkSpec(spec);
  if (specProblems.length) {
    for (const p of specProblems) console.log(p);
    console.log(`FAIL: the spec has ${specProblems.length} problem(s)`);
    process.exit(1);
  }

  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema(spec, SPEC_ID);
  const validators = new Map();
  const validatorAt = (tokens) => {
    const key = pointerOf(tokens);
    if (!validators.has(key)) validators.set(key, ajv.compile({ $ref: SPEC_ID + key }));
    return validators.get(key);
  };

  // Every component schema must be a valid JSON Schema 2020-12, and every response and header
  // schema must compile: a broken schema is a spec problem.
  for (const [name, schema] of Object.entries(spec.components?.schemas || {})) {
    if (!ajv.validateSchema(schema)) {
      for (const e of ajv.errors) {
        specProblems.push(`spec: components/schemas/${name}${e.instancePath} ${e.message}`);
      }
    }
  }
  const templates = compileTemplates(spec);
  for (const { template, item } of templates) {
    for (const method of METHODS) {
      if (!item[method]) continue;
      for (const [status, ref] of Object.entries(item[method].responses || {})) {
        const base = ["paths", template, method, "responses", status];
        const r = deref(spec, ref, base);
        if (!r) {
          specProblems.push(`spec: ${method.toUpperCase()} ${template} ${status}: unresolvable response`);
          continue;
        }
        const schemaPlaces = [];
        for (const [mt, media] of Object.entries(r.node.content || {})) {
          if (media?.schema !== undefined) schemaPlaces.push([...r.tokens, "content", mt, "schema"]);
        }
        for (const [name, h] of Object.entries(r.node.headers || {})) {
          const hr = deref(spec, h, [...r.tokens, "headers", name]);
          if (hr?.node?.schema !== undefined) schemaPlaces.push([...hr.tokens, "schema"]);
        }
        for (const tokens of schemaPlaces) {
          try {
            validatorAt(tokens);
          } catch (e) {
            specProblems.push(`spec: schema at ${pointerOf(tokens)} does not compile: ${e.message}`);
          }
        }
      }
    }
  }
  if (specProblems.length) {
    for (const p of specProblems) console.log(p);
    console.log(`FAIL: the spec has ${specProblems.length} problem(s)`);
    process.exit(1);
  }

  const exchanges = readJson(exchangesFile, "exchanges");
  if (exchanges?.parseError || !Array.isArray(exchanges)) {
    console.log(`exchanges: ${exchanges?.parseError ?? "not a JSON array"}`);
    console.log("FAIL: the exchanges file is not usable");
    process.exit(1);
  }

  let problems = 0;
  let failedExchanges = 0;
  exchanges.forEach((ex, index) => {
    const lines = [];
    const label =
      ex && typeof ex === "object"
        ? `${String(ex.method ?? "?").toUpperCase()} ${ex.path ?? "?"} ${ex.status ?? "?"}`
        : `exchange #${index}`;
    const fail = (what) => lines.push(`${label}: ${what}`);
    checkExchange(ex, fail);
    if (lines.length) {
      failedExchanges++;
      problems += lines.length;
      for (const l of lines) console.log(l);
    }
  });

  function checkExchange(ex, fail) {
    if (ex === null || typeof ex !== "object" || Array.isArray(ex)) return fail("not an object");
    if (typeof ex.method !== "string" || typeof ex.path !== "string" || !ex.path.startsWith("/")) {
      return fail("needs a string method and a path starting with '/'");
    }
    if (!Number.isInteger(ex.status)) return fail("status must be an integer");
    if (ex.headers !== undefined && (ex.headers === null || typeof ex.headers !== "object")) {
      return fail("headers must be an object");
    }
    const headers = new Map(
      Object.entries(ex.headers || {}).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(", ") : String(v)]),
    );
    const body = ex.body === undefined ? null : ex.body;
    const method = ex.method.toLowerCase();
    const path = ex.path.split("?")[0].split("#")[0];

    // Operation and response.
    const match = templates.find((t) => t.re.test(path));
    let response;
    if (!match) {
      if (ex.status === 404 && spec.components?.responses?.NotFound) {
        response = { node: spec.components.responses.NotFound, tokens: ["components", "responses", "NotFound"] };
      } else {
        return fail(`no path in the spec matches ${path}`);
      }
    } else if (!match.item[method]) {
      if (ex.status === 405 && spec.components?.responses?.MethodNotAllowed) {
        response = {
          node: spec.components.responses.MethodNotAllowed,
          tokens: ["components", "responses", "MethodNotAllowed"],
        };
      } else {
        return fail(`${ex.method.toUpperCase()} is not an operation of ${match.template}`);
      }
    } else {
      const responses = match.item[method].responses;
      const key = findResponse(responses, ex.status);
      if (key === undefined) {
        return fail(
          `status ${ex.status} is not a documented response of ${ex.method.toUpperCase()} ${match.template} ` +
            `(documented: ${Object.keys(responses).join(", ")})`,
        );
      }
      response = deref(spec, responses[key], ["paths", match.template, method, "responses", key]);
    }

    // Headers.
    for (const [name, h] of Object.entries(response.node.headers || {})) {
      const hr = deref(spec, h, [...response.tokens, "headers", name]);
      const value = headers.get(name.toLowerCase());
      if (value === undefined) {
        if (hr.node.required) fail(`missing header ${name}`);
        continue;
      }
      if (hr.node.schema === undefined) continue;
      const schema = deref(spec, hr.node.schema, [...hr.tokens, "schema"]).node;
      const types = [].concat(schema?.type ?? []);
      let typed = value;
      if (types.includes("integer") || types.includes("number")) {
        typed = /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value.trim()) : value;
      } else if (types.includes("boolean")) {
        typed = value === "true" ? true : value === "false" ? false : value;
      }
      const validate = validatorAt([...hr.tokens, "schema"]);
      if (!validate(typed)) {
        for (const e of validate.errors) fail(formatAjvError(e, `header ${name} ${JSON.stringify(value)}`));
      }
    }

    // Body.
    const content = response.node.content || {};
    const mediaTypes = Object.keys(content);
    if (mediaTypes.length === 0) {
      if (body !== null) fail("has a body, the spec documents none");
      return;
    }
    const contentType = headers.get("content-type");
    let chosen = mediaTypes.find((m) => m.toLowerCase() === "application/json") ?? mediaTypes[0];
    if (contentType !== undefined) {
      const got = mediaType(contentType);
      const same = mediaTypes.find((m) => m.toLowerCase() === got);
      if (!same) return fail(`content-type ${got}, expected ${mediaTypes.join(" or ")}`);
      chosen = same;
    }
    if (body === null) return fail(`has no body, expected ${chosen}`);
    if (content[chosen].schema === undefined) return;
    const validate = validatorAt([...response.tokens, "content", chosen, "schema"]);
    if (!validate(body)) {
      const seen = new Set();
      for (const e of validate.errors) {
        // allOf/if-then wrappers repeat what the specific error says.
        if (e.keyword === "if" || e.keyword === "allOf") continue;
        const line = formatAjvError(e, "body");
        if (!seen.has(line)) {
          seen.add(line);
          fail(line);
        }
      }
      if (seen.size === 0) fail("body does not match the schema");
    }
  }

  const n = exchanges.length;
  if (problems) {
    console.log(`FAIL: ${failedExchanges} of ${n} exchange(s) do not conform (${problems} problem(s))`);
    process.exit(1);
  }
  console.log(`ok: ${n} exchange(s) conform to ${specFile}`);
  process.exit(0);
}

main();
