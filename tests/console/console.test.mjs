// The web console in a real browser (Debian's chromium, driven by puppeteer-core) against a real
// tresse-dispatcher (embedded Kafka), a real redis-server and an HTTP sink on a real socket:
//   node console.test.mjs --dispatcher BIN --publish BIN --chromium BIN --screenshots DIR
// Each step asserts what the page shows and reads it back through the API. Exit 0 when every
// step passed; on a failure, the step, the dispatcher's log tail and a screenshot.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";

let puppeteer;
try {
  puppeteer = (await import("puppeteer-core")).default;
} catch {
  console.error("puppeteer-core is not installed: run `npm ci` in tests/console (scripts/test does)");
  process.exit(1);
}

const { values: opt } = parseArgs({
  options: {
    dispatcher: { type: "string" },
    publish: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    screenshots: { type: "string", default: join(tmpdir(), "tresse-console-screenshots") },
  },
});
for (const k of ["dispatcher", "publish"]) {
  if (!opt[k]) {
    console.error(`--${k} is required`);
    process.exit(2);
  }
}
mkdirSync(opt.screenshots, { recursive: true });

const work = mkdtempSync(join(tmpdir(), "tresse-console-"));
const children = [];
let page = null;
let dispatcherLog = "";

function fail(message) {
  throw new Error(message);
}
function check(ok, what) {
  if (!ok) fail(what);
  console.log(`ok   ${what}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, pred, timeout = 20000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) fail(`timed out waiting for ${what}`);
    await sleep(150);
  }
}
function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// --- the real parts --------------------------------------------------------------------------

const redisPort = await freePort();
const redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "",
                                     "--appendonly", "no", "--dir", work], { stdio: "ignore" });
children.push(redis);
const redisUrl = `redis://127.0.0.1:${redisPort}/0`;
await until("redis-server", () =>
  spawnSync("redis-cli", ["-p", String(redisPort), "ping"], { encoding: "utf8" }).stdout.includes("PONG"));

// The sink: /ok answers 200, /fail 500 (on a real socket).
const sink = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(req.url.startsWith("/fail") ? 500 : 200, { "content-type": "text/plain" });
    res.end(req.url.startsWith("/fail") ? "down for maintenance" : "thanks");
  });
});
await new Promise((r) => sink.listen(0, "127.0.0.1", r));
const sinkBase = `http://127.0.0.1:${sink.address().port}`;

const bootstrap = join(work, "bootstrap");
const operatorToken = "op_console_" + randomBytes(24).toString("hex");
const dispatcher = spawn(opt.dispatcher, [
  "run", "--set", "kafka.brokers=embedded", "--set", `kafka.embedded_bootstrap_file=${bootstrap}`,
  "--set", "admin.listen=127.0.0.1:0", "--set", "api.listen=127.0.0.1:0", "--set", "api.allow_http=true",
  "--set", "delivery.allow_private_networks=true",
  // Long retries: the only second attempt of a failed event is the one Retry asks for.
  "--set", "delivery.retry_schedule=1h", "--set", "registry.refresh_interval=100ms",
  "--set", "delivery.breaker_failures=0", "--set", `api.operator_token=${operatorToken}`,
], { env: { ...process.env, TRESSE_REDIS_URL: redisUrl }, stdio: ["ignore", "ignore", "pipe"] });
children.push(dispatcher);
dispatcher.stderr.on("data", (d) => { dispatcherLog += d; });
const apiAddress = await until("the management API", () => {
  const m = dispatcherLog.match(/"api":"([^"]+)"[^\n]*"msg":"management API listening"/) ||
            dispatcherLog.match(/"msg":"management API listening"[^\n]*"api":"([^"]+)"/);
  return m && m[1];
}, 60000);
await until("the dispatcher", () => dispatcherLog.includes("dispatcher running"), 60000);
const base = `http://${apiAddress}`;

function cli(args) {
  const r = spawnSync(opt.dispatcher, args, { encoding: "utf8", env: { ...process.env, TRESSE_REDIS_URL: redisUrl } });
  if (r.status !== 0) fail(`${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const key = cli(["keys", "create", "--business", "biz_console", "--mode", "live"]).secret;

async function api(method, path, body, credential = key) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${credential}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}
function publish(type, data) {
  const brokers = readFileSync(bootstrap, "utf8").trim();
  const r = spawnSync(opt.publish, ["--brokers", brokers, "--type", type, "--business", "biz_console",
                                    "--data", JSON.stringify(data)], { encoding: "utf8" });
  if (r.status !== 0) fail(`tresse-publish: ${r.stderr}`);
}

// --- the browser ----------------------------------------------------------------------------

const browser = await puppeteer.launch({
  executablePath: opt.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const problems = [];  // console errors (CSP violations among them) and uncaught exceptions
async function newPage(context) {
  const p = await (context || browser).newPage();
  p.on("console", (m) => {
    if (m.type() === "error" && !/status of (401|403|404)/.test(m.text())) problems.push(m.text());
  });
  p.on("pageerror", (e) => problems.push(String(e)));
  p.on("dialog", (d) => d.accept());
  await p.setViewport({ width: 1200, height: 900 });
  return p;
}
async function shot(name) {
  await page.screenshot({ path: join(opt.screenshots, `${name}.png`), fullPage: true });
}
const text = () => page.evaluate(() => document.body.innerText);
async function clickButton(label, scope = "body") {
  const ok = await page.evaluate((label, scope) => {
    const b = [...document.querySelector(scope).querySelectorAll("button")].find((x) => x.textContent.trim() === label);
    if (b) b.click();
    return !!b;
  }, label, scope);
  if (!ok) fail(`no "${label}" button in ${scope}`);
}
// Opens an endpoint's page and waits until it is that one (a hash change re-renders in place).
async function openEndpoint(id, url = base + "/console/") {
  await page.goto(url.replace(/#.*/, "") + `#/endpoints/${id}`);
  await until(`the page of ${id}`, () =>
    page.$$eval("main dd code", (els, id) => els.some((e) => e.textContent === id), id).catch(() => false));
}
const buttons = () => page.evaluate(() => [...document.querySelectorAll("main button")].map((b) => b.textContent.trim()));

const started = Date.now();
try {
  page = await newPage();

  // 1. Log in with a key.
  await page.goto(base + "/console/");
  await page.waitForSelector('input[name="key"]');
  await shot("login");
  await page.type('input[name="key"]', "sk_live_tooshort");
  await page.keyboard.press("Enter");
  await until("the bad-key message", async () => (await text()).includes("not a business API key"));
  check(true, "a malformed key is refused in the page");
  await page.$eval('input[name="key"]', (el) => { el.value = ""; });
  await page.type('input[name="key"]', key);
  await page.keyboard.press("Enter");
  await page.waitForSelector("h1");
  await until("the endpoints page", async () => (await text()).includes("No endpoints yet"));
  check(await page.evaluate(() => sessionStorage.getItem("tresse.credential")) === key,
        "the key is kept in sessionStorage");
  check(await page.evaluate(() => localStorage.length === 0 && document.cookie === ""),
        "and nowhere else (no localStorage, no cookie)");

  // 2. Create an endpoint through the form: the secret once, then read it back through the API.
  await page.type('input[name="url"]', sinkBase + "/ok");
  await page.type('input[name="description"]', "front desk");
  await clickButton("Create endpoint");
  await page.waitForSelector(".reveal input.secret");
  const secret = await page.$eval(".reveal input.secret", (el) => el.value);
  check(secret.startsWith("whsec_"), "the new endpoint's secret is shown");
  await shot("created");
  const listed = await api("GET", "/v1/webhooks");
  check(listed.body.data.length === 1 && listed.body.data[0].url === sinkBase + "/ok" &&
        listed.body.data[0].description === "front desk" && listed.body.data[0].events[0] === "*",
        "the API has the endpoint the form created");
  const ok = listed.body.data[0];
  await clickButton("Done");
  await page.reload();
  await until("the list after reload", async () => (await text()).includes(sinkBase + "/ok"));
  check(!(await page.content()).includes(secret), "the secret is not shown again");
  check(await page.$eval(`tr[data-id="${ok.id}"] .badge`, (el) => el.textContent) === "healthy",
        "the state badge says healthy");

  // 3. Disable and enable from the list.
  await clickButton("Disable", `tr[data-id="${ok.id}"]`);
  await until("the disabled badge", () =>
    page.$eval(`tr[data-id="${ok.id}"] .badge`, (el) => el.textContent === "disabled").catch(() => false));
  check((await api("GET", `/v1/webhooks/${ok.id}`)).body.enabled === false, "Disable disabled it (API)");
  await clickButton("Enable", `tr[data-id="${ok.id}"]`);
  await until("the healthy badge", () =>
    page.$eval(`tr[data-id="${ok.id}"] .badge`, (el) => el.textContent === "healthy").catch(() => false));
  check((await api("GET", `/v1/webhooks/${ok.id}`)).body.enabled === true, "Enable enabled it (API)");

  // 4. Publish an event: its attempt appears in the log, and expands.
  const failing = (await api("POST", "/v1/webhooks", { url: sinkBase + "/fail", events: ["client.created"] })).body;
  await sleep(300);  // the registry refresh (100 ms) picks both up
  publish("client.created", { id: "cli_8x7kq2m", name: "Ana Souza" });
  await until("the attempt (API)", async () => (await api("GET", `/v1/webhooks/${ok.id}/deliveries`)).body.data.length > 0);
  // The stats are flushed to Redis about once a second after the attempt.
  await until("the attempt in the stats (API)", async () =>
    (await api("GET", `/v1/webhooks/${ok.id}/stats`)).body.summary.delivered === 1);
  await openEndpoint(ok.id);
  await page.waitForSelector("li.attempt summary");
  await page.click("li.attempt summary");
  await until("the expanded attempt", async () => (await text()).includes("Response status"));
  const expanded = await page.$eval("li.attempt details", (d) => d.open && d.innerText);
  check(expanded && expanded.includes("200") && expanded.includes("thanks"),
        "the attempt expands to its status and response body");
  const bars = await page.$$eval("svg.chart rect", (r) => r.length);
  check(bars > 0, `the charts draw the attempts (${bars} bars)`);
  // From GET …/stats: one delivered bar in the minute of the attempt, in both windows, and a
  // latency point for it; the caption counts it in the singular.
  const stats = (await api("GET", `/v1/webhooks/${ok.id}/stats`)).body;
  const minute = stats.data.find((b) => b.delivered > 0).start;
  check(await page.$$eval("svg.chart.counts rect.ok", (r) => r.length) === 2 &&
        await page.$eval(`svg.chart.counts rect.ok[data-start="${minute}"]`, () => true).catch(() => false),
        "the charts draw a delivered bar in the minute the stats endpoint gives");
  check(await page.$$eval("svg.chart.latency circle.point.p99", (c) => c.length) >= 2,
        "the latency charts have points from the stats endpoint");
  check((await text()).includes("1 attempt, 100% succeeded"), "the caption says 1 attempt (singular)");
  await shot("endpoint");

  // 5. Retry a failed attempt and see the next attempt.
  await openEndpoint(failing.id);
  await until("the failed attempt", async () => {
    if (await page.$("li.attempt.failed")) return true;
    await clickButton("Refresh").catch(() => {});
    return false;
  });
  check((await page.$$("li.attempt")).length === 1, "one failed attempt before Retry");
  await page.click("li.attempt summary");
  await clickButton("Retry", "li.attempt");
  await until("the second attempt", async () => {
    await clickButton("Refresh");
    await sleep(300);
    return (await page.$$("li.attempt")).length >= 2;
  });
  const attempts = (await api("GET", `/v1/webhooks/${failing.id}/deliveries`)).body.data;
  check(attempts.length >= 2 && attempts[0].attempt === 2, "Retry made attempt 2 (API)");
  await shot("retried");

  // 5b. Its badge says failing (every instance's recent attempts, through the API's health),
  // in the list and in the operators' view, which only the operator token opens.
  await page.goto(base + "/console/#/endpoints");
  await until("the failing badge", async () => {
    await page.reload();
    await sleep(500);
    return page.$eval(`tr[data-id="${failing.id}"] .badge`, (el) => el.textContent === "failing").catch(() => false);
  });
  check((await api("GET", `/v1/webhooks/${failing.id}`)).body.health.state === "failing", "the API says failing too");
  await shot("endpoints");
  const consolePage = page;
  const opsContext = await browser.createBrowserContext();
  page = await newPage(opsContext);
  await page.goto(base + "/console/ops/");
  await page.waitForSelector('input[name="operator_token"]');
  await page.type('input[name="operator_token"]', key);
  await page.keyboard.press("Enter");
  await until("the refusal of a business key", async () => (await text()).includes("needs the operator token"));
  await page.type('input[name="operator_token"]', operatorToken);
  await page.keyboard.press("Enter");
  await until("the ops view's failing endpoint", () =>
    page.$eval(`div[data-business="biz_console"] tr[data-id="${failing.id}"] .badge`,
               (el) => el.textContent === "failing").catch(() => false));
  check(await page.$eval(`section[aria-labelledby="worst-rate-title"] tbody tr`, (tr) => tr.dataset.id) === failing.id,
        "the ops view lists the failing endpoint first among the worst by success rate");
  check(await page.$$eval("section[aria-labelledby=rate-title] svg.chart rect.ok", (r) => r.length) > 0,
        "the ops view draws the delivery rate");
  await shot("ops");
  await opsContext.close();
  page = consolePage;

  // 6. Replay the last hour to the good endpoint, and see progress reach completed.
  await openEndpoint(ok.id);
  await clickButton("Replay", "form[aria-labelledby=replay-title]");
  await until("the replay to complete", () =>
    page.$eval("form[aria-labelledby=replay-title] .notice", (n) => n.dataset.status === "completed"), 30000);
  const bar = await page.$eval("form[aria-labelledby=replay-title] progress", (p) => [p.value, p.max]);
  check(bar[0] === bar[1], "the replay's progress bar is full when completed");
  await shot("replayed");

  // 6b. The endpoint options in the Settings form: each one set, then shown on the page; the
  // secrets are write-only (the masked value is a hint, never sent back on another edit).
  const patches = [];
  page.on("request", (r) => {
    if (r.method() === "PATCH") patches.push(JSON.parse(r.postData() || "{}"));
  });
  const bearerToken = "tok_console_" + randomBytes(12).toString("hex");
  const certFile = join(work, "client.pem"), keyFile = join(work, "client.key");
  const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                     "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "30",
                                     "-subj", "/CN=console-client"], { encoding: "utf8" });
  if (made.status !== 0) fail(`openssl req: ${made.stderr}`);
  const form = "form[aria-labelledby=edit-title]";
  const about = () => page.$eval("section[aria-labelledby=about-title]", (s) => s.innerText);
  // Save, and wait until the page has re-rendered with what was saved.
  const saveSettings = async () => {
    const old = await page.$(form);
    await clickButton("Save", form);
    await until("the page after Save", () => old.evaluate((f) => !f.isConnected));
  };
  await openEndpoint(ok.id);
  await clickButton("Add header", form);
  await clickButton("Add header", form);
  await page.type(`${form} .header-row:nth-child(1) input[name=header_name]`, "X-Tenant");
  await page.type(`${form} .header-row:nth-child(1) input[name=header_value]`, "front-desk");
  await page.type(`${form} .header-row:nth-child(2) input[name=header_name]`, "X-Dropped");
  await clickButton("Remove", `${form} .header-row:nth-child(2)`);
  check((await page.$$(`${form} .header-row`)).length === 1, "the header editor adds and removes rows");
  await page.select(`${form} select[name=auth_type]`, "bearer");
  await page.type(`${form} input[name=auth_token]`, bearerToken);
  await page.type(`${form} input[name=timeout_seconds]`, "7");
  await page.select(`${form} select[name=signature_scheme]`, "v1,v1a");
  await page.$eval(`${form} textarea[name=tls_certificate]`, (el, v) => { el.value = v; }, readFileSync(certFile, "utf8"));
  await page.$eval(`${form} textarea[name=tls_private_key]`, (el, v) => { el.value = v; }, readFileSync(keyFile, "utf8"));
  await saveSettings();
  const saved = (await api("GET", `/v1/webhooks/${ok.id}`)).body;
  check(saved.signature_scheme === "v1,v1a", "the signature scheme is set (API)");
  check(JSON.stringify(saved.headers) === JSON.stringify({ "X-Tenant": "front-desk" }), "the headers are set (API)");
  check(saved.auth && saved.auth.type === "bearer" && saved.auth.token === "\u2026" + bearerToken.slice(-4),
        "the bearer token is set, and shown masked (API)");
  check(saved.timeout_seconds === 7, "the timeout is set (API)");
  check(saved.public_key && saved.public_key.startsWith("whpk_"), "v1,v1a made a public key (API)");
  check(saved.tls_client_certificate && saved.tls_client_certificate.subject === "CN=console-client",
        "the client certificate is set (API)");
  const aboutText = await about();
  check(aboutText.includes("X-Tenant: front-desk") && aboutText.includes("v1,v1a") &&
        aboutText.includes(saved.auth.token) && aboutText.includes("CN=console-client"), "the endpoint page shows the headers, scheme, masked auth and certificate");
  check(await page.$eval(`dd[data-option=tls_client_certificate] time[datetime="${saved.tls_client_certificate.expires_at}"]`,
                         () => true).catch(() => false), "and the certificate's expiry");
  check(await page.$eval("input[name=public_key]", (el) => el.value) === saved.public_key &&
        await page.$eval("input[name=public_key] + button", (b) => b.textContent === "Copy"),
        "the public key is shown with a copy button");
  const tokenField = await page.$eval(`${form} input[name=auth_token]`, (el) => [el.value, el.placeholder]);
  check(tokenField[0] === "" && tokenField[1].includes(saved.auth.token),
        "the token field is empty, with the masked value as its hint");
  check(!(await page.content()).includes(bearerToken), "the token is nowhere in the page");
  await shot("options");

  // An unrelated edit sends neither auth nor the certificate back.
  patches.length = 0;
  await page.$eval(`${form} input[name=description]`, (el) => { el.value = ""; });
  await page.type(`${form} input[name=description]`, "front desk, mTLS");
  await saveSettings();
  check((await api("GET", `/v1/webhooks/${ok.id}`)).body.description === "front desk, mTLS",
        "the description is changed (API)");
  const sent = patches.at(-1) || {};
  check(patches.length === 1 && !("auth" in sent) && !("tls_client_certificate" in sent) && !("headers" in sent) &&
        !("signature_scheme" in sent) && !("timeout_seconds" in sent),
        `an unrelated edit sends only what changed (sent: ${Object.keys(sent).join(", ")})`);
  check(JSON.stringify((await api("GET", `/v1/webhooks/${ok.id}`)).body.auth) === JSON.stringify(saved.auth),
        "and the auth is unchanged (API)");

  // The API's 400 is shown beside the form, the named field marked.
  const before400 = problems.length;
  await clickButton("Add header", form);
  await page.type(`${form} .header-row:nth-child(2) input[name=header_name]`, "Bad Name");
  await clickButton("Save", form);
  await until("the error beside the form", () =>
    page.$eval(`${form} .notice.bad`, (n) => n.textContent.includes("'headers'")).catch(() => false));
  check(await page.$eval(`${form} fieldset[name=headers]`, (f) => f.getAttribute("aria-invalid") === "true"),
        "the form shows the API's error and marks the header editor");
  // The browser logs the 400 itself; that one is expected.
  problems.splice(before400, problems.length - before400,
                  ...problems.slice(before400).filter((p) => !/status of 400/.test(p)));

  // Auth "none" removes it.
  await clickButton("Remove", `${form} .header-row:nth-child(2)`);
  await page.select(`${form} select[name=auth_type]`, "none");
  await saveSettings();
  check((await api("GET", `/v1/webhooks/${ok.id}`)).body.auth === null && patches.at(-1).auth === null,
        "auth none removes it (auth: null sent; API)");
  check((await page.$eval("dd[data-option=auth]", (d) => d.textContent)) === "none", "and the page says none");

  // 7. Event catalog; the list at 360 px wide without sideways scrolling.
  await page.goto(base + "/console/#/events");
  await until("the catalog", async () => (await text()).includes("appointment.created"));
  check((await page.$$("details pre")).length >= 9, "the catalog shows each type with an example");
  await shot("events");
  await page.setViewport({ width: 360, height: 800 });
  await page.goto(base + "/console/#/endpoints");
  await until("the list", async () => (await text()).includes(sinkBase + "/ok"));
  check(await page.evaluate(() => document.documentElement.scrollWidth <= 360), "the list fits 360 px");
  await shot("endpoints-360px");
  await page.setViewport({ width: 1200, height: 900 });

  // 8. Delete from the list.
  await clickButton("Delete", `tr[data-id="${failing.id}"]`);
  await until("the row to go", async () => !(await page.$(`tr[data-id="${failing.id}"]`)));
  check((await api("GET", `/v1/webhooks/${failing.id}`)).status === 404, "Delete deleted it (API)");

  // 8b. An ordered endpoint through the form: its page shows the ordering and what waits (its
  // sink fails, so the resource's first event stays the head and the second waits behind it).
  await page.type('input[name="url"]', sinkBase + "/fail/ordered");
  await page.select('select[name="ordering"]', "per_resource");
  await clickButton("Create endpoint");
  await page.waitForSelector(".reveal input.secret");
  const ordered = (await api("GET", "/v1/webhooks")).body.data.find((e) => e.url === sinkBase + "/fail/ordered");
  check(ordered && ordered.ordering === "per_resource", "the form created an ordered endpoint (API)");
  await clickButton("Done");
  await sleep(300);  // the registry refresh (100 ms)
  publish("client.updated", { id: "cli_ordered", name: "Ana Souza" });
  publish("client.updated", { id: "cli_ordered", name: "Ana Souza-Lima" });
  await until("the ordered backlog (API)", async () =>
    (await api("GET", `/v1/webhooks/${ordered.id}/ordered_backlog`)).body.waiting === 1);
  await openEndpoint(ordered.id);
  await until("the ordered backlog on the page", () =>
    page.$eval('dd[data-field="ordered-waiting"]', (el) => el.textContent.startsWith("1 (the oldest since"))
      .catch(() => false));
  check((await text()).includes("per resource"), "the endpoint page says it is ordered per resource");
  check(await page.$eval('form[aria-labelledby=edit-title] select[name="ordering"]', (s) => s.value) === "per_resource",
        "the settings form shows the ordering");
  await shot("ordered");
  // Back to none through the settings form.
  await page.select('form[aria-labelledby=edit-title] select[name="ordering"]', "none");
  await clickButton("Save", "form[aria-labelledby=edit-title]");
  await until("the saved ordering (API)", async () =>
    (await api("GET", `/v1/webhooks/${ordered.id}`)).body.ordering === "none");
  await until("the page after saving", async () => (await text()).includes("Saved."));
  check(!(await page.$('dd[data-field="ordered-waiting"]')), "an unordered endpoint shows no ordered backlog");
  await page.goto(base + "/console/#/endpoints");
  await until("the list", async () => (await text()).includes(sinkBase + "/ok"));

  // 8c. A v1a-only endpoint through the form: it has no secret to reveal, its public key instead.
  await page.type('input[name="url"]', sinkBase + "/ok/v1a");
  await page.select('form[aria-labelledby=create-title] select[name="signature_scheme"]', "v1a");
  await clickButton("Create endpoint");
  await page.waitForSelector('.reveal input[name="public_key"]');
  const v1a = (await api("GET", "/v1/webhooks")).body.data.find((e) => e.url === sinkBase + "/ok/v1a");
  check(v1a && v1a.signature_scheme === "v1a" && v1a.public_key.startsWith("whpk_"),
        "the form created a v1a endpoint (API)");
  check(await page.$eval('.reveal input[name="public_key"]', (el) => el.value) === v1a.public_key,
        "the create form reveals its public key");
  check(!(await page.$(".reveal input.secret:not([name])")), "and no secret");
  await clickButton("Done");

  // 9. A portal-session URL logs in without a key.
  const rw = (await api("POST", "/v1/portal_sessions", {})).body;
  let ctx = await browser.createBrowserContext();
  page = await newPage(ctx);
  await page.goto(rw.url);
  await until("the session's list", async () => (await text()).includes(sinkBase + "/ok"));
  check(!page.url().includes("session="), "the token leaves the address bar");
  check((await buttons()).includes("Create endpoint"), "a read-write session has the write controls");
  await shot("portal-session");
  await ctx.close();

  // 10. A read-only session: no write controls, and the API refuses writes.
  const ro = (await api("POST", "/v1/portal_sessions", { read_only: true })).body;
  ctx = await browser.createBrowserContext();
  page = await newPage(ctx);
  await page.goto(ro.url);
  await until("the read-only list", async () => (await text()).includes(sinkBase + "/ok"));
  check((await text()).includes("read-only"), "the header says read-only");
  let shown = await buttons();
  check(!shown.some((b) => ["Create endpoint", "Disable", "Enable", "Delete"].includes(b)),
        `the list has no write controls (buttons: ${shown.join(", ") || "none"})`);
  await openEndpoint(ok.id, ro.url);
  await page.waitForSelector("li.attempt summary");
  await page.click("li.attempt summary");
  shown = await buttons();
  check(!shown.some((b) => ["Send test ping", "Rotate secret", "Retry", "Replay", "Save", "Disable"].includes(b)),
        `the endpoint page has no write controls (buttons: ${shown.join(", ") || "none"})`);
  await shot("read-only");
  const token = await page.evaluate(() => sessionStorage.getItem("tresse.credential"));
  const refused = await api("PATCH", `/v1/webhooks/${ok.id}`, { enabled: false }, token);
  check(refused.status === 403 && refused.body.error.code === "forbidden", "the API refuses the session's write (403)");
  await ctx.close();

  // 11. An expired session is refused.
  const short = (await api("POST", "/v1/portal_sessions", { ttl_seconds: 1 })).body;
  await sleep(1500);
  ctx = await browser.createBrowserContext();
  page = await newPage(ctx);
  await page.goto(short.url);
  await until("the login page", async () => (await page.$('input[name="key"]')) !== null);
  check((await text()).includes("expired"), "an expired session gets the log-in page, saying so");
  const tokenOf = short.url.split("#session=")[1];
  check((await api("GET", "/v1/webhooks", undefined, tokenOf)).status === 401, "and the API answers 401");
  await shot("expired");
  await ctx.close();

  // 12. No CSP violation or script error on any page.
  check(problems.length === 0, `no console errors or CSP violations${problems.length ? ": " + problems.join(" | ") : ""}`);
  console.log(`ok: the console click-through passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${opt.screenshots}`);
} catch (e) {
  console.log(`FAIL ${e.message}`);
  if (page) await page.screenshot({ path: join(opt.screenshots, "failure.png"), fullPage: true }).catch(() => {});
  if (problems.length) console.log("browser console:\n  " + problems.join("\n  "));
  console.log("dispatcher log (tail):\n" + dispatcherLog.split("\n").slice(-30).join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close().catch(() => {});
  sink.close();
  for (const c of children) c.kill("SIGTERM");
  await sleep(200);
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
}
