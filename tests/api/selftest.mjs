// Self-test of validate.mjs against dispatcher/api/openapi.json and the fixtures:
//   node tests/api/selftest.mjs
// fixtures/good.json (every operation, every error response) must pass; every exchange of
// fixtures/bad.json must fail, each with the problems listed below; a broken spec must be
// refused. Exits 0 when every check passed, 1 otherwise.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const spec = join(here, "../../dispatcher/api/openapi.json");
const validator = join(here, "validate.mjs");

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
}
function run(...args) {
  const r = spawnSync(process.execPath, [validator, ...args], { encoding: "utf8", timeout: 60000 });
  if (r.error) throw r.error;
  return { status: r.status, out: r.stdout, lines: r.stdout.split("\n").filter(Boolean), err: r.stderr };
}

// Every exchange of the good fixture conforms.
const good = run(spec, join(here, "fixtures/good.json"));
const goodCount = JSON.parse(readFileSync(join(here, "fixtures/good.json"), "utf8")).length;
check(good.status === 0, `good.json: exit 0 (got ${good.status}${good.status ? ":\n" + good.out + good.err : ""})`);
check(good.lines.at(-1) === `ok: ${goodCount} exchange(s) conform to ${spec}`, "good.json: summary line");

// Every operation of the spec is exercised by the good fixture.
const doc = JSON.parse(readFileSync(spec, "utf8"));
const exchanges = JSON.parse(readFileSync(join(here, "fixtures/good.json"), "utf8"));
for (const [template, item] of Object.entries(doc.paths)) {
  const re = new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "$");
  for (const method of Object.keys(item).filter((k) => k !== "parameters")) {
    const hit = exchanges.some(
      (x) => x.method.toLowerCase() === method && re.test(x.path.split("?")[0]) && x.status < 300,
    );
    check(hit, `good.json covers ${method.toUpperCase()} ${template}`);
  }
}

// The bad fixture: every exchange fails, with these problems.
const bad = run(spec, join(here, "fixtures/bad.json"));
const badCount = JSON.parse(readFileSync(join(here, "fixtures/bad.json"), "utf8")).length;
check(bad.status === 1, `bad.json: exit 1 (got ${bad.status})`);
check(
  new RegExp(`^FAIL: ${badCount} of ${badCount} exchange\\(s\\) do not conform`).test(bad.lines.at(-1) ?? ""),
  `bad.json: all ${badCount} exchanges fail`,
);
const ep = "/v1/webhooks/we_0Q5sH2kZa7Xk2mPq9rT4vW";
const expected = [
  "GET /v1/event_types 404: status 404 is not a documented response of GET /v1/event_types",
  `GET ${ep} 200: body is missing required property 'failure_count'`,
  `GET ${ep} 200: body has unexpected property 'secret'`,
  `GET ${ep} 200: header X-RateLimit-Remaining "lots" must be integer`,
  `GET ${ep} 200: missing header X-RateLimit-Reset`,
  "GET /v1/webhooks 429: missing header Retry-After",
  "GET /v1/webhooks 401: body/error has unexpected property 'request_id'",
  'GET /v1/webhooks 401: body/error/code must be one of ["authentication_required","invalid_api_key"]',
  "GET /v1/webhooks 401: body/error/status must be 401",
  'GET /v1/replays/rpl_3kT8sQ1vB6 200: body/id must match pattern "^rpl_',
  'GET /v1/replays/rpl_3kT8sQ1vB6 200: body/since must match format "date-time"',
  'GET /v1/replays/rpl_3kT8sQ1vB6 200: body/status must be one of ["running","completed","failed"]',
  "GET /v1/replays/rpl_3kT8sQ1vB6 200: body/scanned must be integer",
  `GET ${ep}/deliveries 200: body/next_cursor must be string`,
  `GET ${ep}/deliveries 200: body/data/0/error must be string,null`,
  "GET /v1/webhook 200: no path in the spec matches /v1/webhook",
  `PUT ${ep} 200: PUT is not an operation of /v1/webhooks/{id}`,
  `POST ${ep}/test 202: has no body, expected application/json`,
  "GET /v1/event_types 200: content-type text/plain, expected application/json",
  'POST /v1/webhooks 201: header Idempotent-Replayed "yes" must be one of ["true"]',
  "POST /v1/webhooks 201: body is missing required property 'secret'",
  "POST /v1/webhooks 201: body is missing required property 'previous_secrets'",
];
for (const line of expected) {
  check(bad.lines.some((l) => l.startsWith(line)), `bad.json reports: ${line}`);
}
const unexpected = bad.lines.slice(0, -1).filter((l) => !expected.some((e) => l.startsWith(e)));
check(
  unexpected.length === 0,
  `bad.json: no unexpected problems${unexpected.length ? ":\n  " + unexpected.join("\n  ") : ""}`,
);

// A broken spec is refused before any exchange is looked at.
const dir = mkdtempSync(join(tmpdir(), "tresse-api-selftest-"));
try {
  const broken = structuredClone(doc);
  broken.openapi = "3.0.3";
  broken.paths["/v1/webhooks"].get.responses["200"].content["application/json"].schema = {
    $ref: "#/components/schemas/NoSuchSchema",
  };
  writeFileSync(join(dir, "broken.json"), JSON.stringify(broken));
  const r = run(join(dir, "broken.json"), join(here, "fixtures/good.json"));
  check(r.status === 1, `broken spec: exit 1 (got ${r.status})`);
  check(r.lines.some((l) => l.startsWith('spec: openapi is "3.0.3", expected 3.1.x')), "broken spec: version");
  check(
    r.lines.some((l) => l.includes("$ref '#/components/schemas/NoSuchSchema'") && l.includes("does not resolve")),
    "broken spec: dangling $ref",
  );
  check(!r.lines.some((l) => l.startsWith("GET ") || l.startsWith("POST ")), "broken spec: no exchange checked");

  const badSchema = structuredClone(doc);
  badSchema.components.schemas.Replay.properties.scanned.type = "integr";
  writeFileSync(join(dir, "bad-schema.json"), JSON.stringify(badSchema));
  const bs = run(join(dir, "bad-schema.json"), join(here, "fixtures/good.json"));
  check(
    bs.status === 1 && bs.lines.some((l) => l.startsWith("spec: components/schemas/Replay/properties/scanned/type ")),
    "spec with an invalid JSON Schema: exit 1 naming the schema",
  );

  writeFileSync(join(dir, "notjson.json"), "{");
  const nj = run(join(dir, "notjson.json"), join(here, "fixtures/good.json"));
  check(nj.status === 1 && nj.lines[0].startsWith("spec: spec "), "unparsable spec: exit 1 with the reason");
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Usage.
check(run().status === 2, "no arguments: exit 2");

console.log(failures ? `FAIL: ${failures} check(s) failed` : "ok: every check passed");
process.exit(failures ? 1 : 0);
