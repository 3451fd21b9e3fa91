// Interop with an independent Standard Webhooks implementation: the `standardwebhooks` npm
// package (the specification's own JavaScript library).
//
//   node interop.mjs <case> <path to tresse-webhook>
//
// cases: node-signs-cli-verifies, cli-signs-node-verifies, node-posts-to-listen.
// Exits 0 when every check passed, 1 otherwise (with the reason on stderr).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";

const [, , testCase, cli] = process.argv;
const here = new URL(".", import.meta.url).pathname;

if (!existsSync(new URL("./node_modules/standardwebhooks/package.json", import.meta.url))) {
  console.error(
    `FAIL: the standardwebhooks npm package is not installed in ${here}node_modules.\n` +
      `Run scripts/test (it installs it), or: (cd ${here} && npm ci)`,
  );
  process.exit(1);
}
const { Webhook } = await import("standardwebhooks");

if (!cli || !existsSync(cli)) {
  console.error(`FAIL: tresse-webhook not found at '${cli}' (build it first)`);
  process.exit(1);
}

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
}

const newSecret = () => "whsec_" + randomBytes(32).toString("base64");
const body = JSON.stringify({
  id: "evt_2Hq9x7LmQ",
  type: "appointment.created",
  business_id: "biz_4f8a2c",
  livemode: true,
  timestamp: "2026-04-19T10:32:00Z",
  data: { id: "apt_q9w3r1z", status: "confirmed", note: "caf\u00e9 \u2615" },
});

function runCli(args, input) {
  const r = spawnSync(cli, args, { input, encoding: "utf8", timeout: 30000 });
  if (r.error) throw r.error;
  return r;
}

function cliVerify(secrets, headers, payload) {
  const args = ["verify"];
  for (const s of secrets) args.push("--secret", s);
  for (const [name, value] of Object.entries(headers)) args.push("--header", `${name}: ${value}`);
  return runCli(args, payload);
}

function cliSign(secrets, id, timestamp, payload) {
  const args = ["sign", "--id", id, "--timestamp", String(timestamp)];
  for (const s of secrets) args.push("--secret", s);
  const r = runCli(args, payload);
  if (r.status !== 0) throw new Error(`tresse-webhook sign exited ${r.status}: ${r.stderr}`);
  const headers = {};
  for (const line of r.stdout.trim().split("\n")) {
    const colon = line.indexOf(": ");
    headers[line.slice(0, colon)] = line.slice(colon + 2);
  }
  return headers;
}

function nodeSign(secret, id, payload) {
  const now = new Date();
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, now, payload),
  };
}

function nodeVerifies(secret, payload, headers) {
  try {
    new Webhook(secret).verify(payload, headers);
    return true;
  } catch (e) {
    return false;
  }
}

async function nodeSignsCliVerifies() {
  const secret = newSecret();
  const headers = nodeSign(secret, "evt_node_1", body);
  let r = cliVerify([secret], headers, body);
  check(r.status === 0 && r.stdout === "valid\n",
        `tresse-webhook verify accepts node's signature (exit ${r.status}: ${r.stdout.trim()})`);

  r = cliVerify([secret], headers, body.replace("confirmed", "canceled"));
  check(r.status === 1 && r.stdout.startsWith("no_matching_signature"),
        `a tampered body is rejected (exit ${r.status}: ${r.stdout.trim()})`);

  r = cliVerify([newSecret()], headers, body);
  check(r.status === 1 && r.stdout.startsWith("no_matching_signature"),
        `another secret is rejected (exit ${r.status})`);

  r = cliVerify([secret], { ...headers, "webhook-id": "evt_node_2" }, body);
  check(r.status === 1 && r.stdout.startsWith("no_matching_signature"),
        `a changed webhook-id is rejected (exit ${r.status})`);

  // Rotation: the receiver knows a new secret and the old one node signed with.
  r = cliVerify([newSecret(), secret], headers, body);
  check(r.status === 0,
        `verify with [new, old] secrets accepts the old signature (exit ${r.status})`);
}

async function cliSignsNodeVerifies() {
  const secret = newSecret();
  const now = Math.floor(Date.now() / 1000);
  const headers = cliSign([secret], "evt_cli_1", now, body);
  check(nodeVerifies(secret, body, headers), "node's Webhook.verify accepts tresse-webhook sign");
  check(!nodeVerifies(secret, body + " ", headers), "node rejects a tampered body");
  check(!nodeVerifies(newSecret(), body, headers), "node rejects another secret");

  // Rotation: signed by old and new; a node receiver that knows either one accepts it.
  const newer = newSecret();
  const both = cliSign([secret, newer], "evt_cli_2", now, body);
  check(both["webhook-signature"].split(" ").length === 2, "two secrets give two signatures");
  check(nodeVerifies(secret, body, both) && nodeVerifies(newer, body, both),
        "node accepts either rotated secret");
}

async function nodePostsToListen() {
  const secret = newSecret();
  const listen = spawn(cli, ["listen", "--port", "0", "--secret", secret], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise((resolve) => listen.on("exit", (code) => resolve(code)));
  const stdoutLines = createInterface({ input: listen.stdout })[Symbol.asyncIterator]();
  const stderrLines = createInterface({ input: listen.stderr })[Symbol.asyncIterator]();
  const timeout = setTimeout(() => {
    console.error("FAIL: timed out");
    listen.kill("SIGKILL");
    process.exit(1);
  }, 30000);
  try {
    const first = (await stderrLines.next()).value ?? "";
    const port = /:(\d+)$/.exec(first)?.[1];
    check(port !== undefined, `listen says where it listens: ${first}`);
    const url = `http://127.0.0.1:${port}/webhooks`;

    const headers = {
      ...nodeSign(secret, "evt_post_1", body),
      "content-type": "application/json",
      "tresse-event-type": "appointment.created",
    };
    let res = await fetch(url, { method: "POST", headers, body });
    check(res.status === 204, `a webhook signed by node gets 204 (got ${res.status})`);
    const line = JSON.parse((await stdoutLines.next()).value);
    check(line.id === "evt_post_1" && line.outcome === "valid" &&
            line.type === "appointment.created",
          `listen prints the webhook: ${JSON.stringify(line)}`);

    res = await fetch(url, { method: "POST", headers, body: body + "x" });
    const error = await res.json();
    check(res.status === 401 && error.error?.code === "no_matching_signature",
          `a tampered webhook gets 401 no_matching_signature ` +
            `(got ${res.status} ${JSON.stringify(error)})`);
  } finally {
    listen.kill("SIGTERM");
    const code = await exited;
    clearTimeout(timeout);
    check(code === 0, `listen exits 0 on SIGTERM (got ${code})`);
  }
}

const cases = {
  "node-signs-cli-verifies": nodeSignsCliVerifies,
  "cli-signs-node-verifies": cliSignsNodeVerifies,
  "node-posts-to-listen": nodePostsToListen,
};
if (!cases[testCase]) {
  console.error(`usage: node interop.mjs <${Object.keys(cases).join("|")}> <tresse-webhook>`);
  process.exit(2);
}
await cases[testCase]();
process.exit(failures === 0 ? 0 : 1);
