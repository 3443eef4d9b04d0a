// Drives the real npm `@servicestack/client` against a gateway, in every mode its users call it,
// with DTOs that the official `@servicestack/cli` (`typescript-ref`) fetched from the gateway's own
// /types/typescript and the `typescript` package transpiled. It asserts nothing itself: it prints
// one JSON report of what the client surfaced, and tests/e2e_servicestack_client.rs asserts on it.
//
// usage: node tests/node/servicestack_client.mjs <gateway base url> <work dir> <key id> <secret>

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { randomUUID } from "node:crypto";

import ts from "typescript";
import { JsonServiceClient, JsonApiClient } from "@servicestack/client";

const [base, workDir, keyId, secret] = process.argv.slice(2);
if (!base || !workDir || !keyId || !secret) {
  console.error("usage: servicestack_client.mjs <base> <work dir> <key id> <secret>");
  process.exit(2);
}

const INSTANT = "tok_visa";
const ASYNC_2S = "a5c00000-0000-4000-8000-000000000002";
const NEVER = "deadbeef-0000-4000-8000-000000000000";

// 1. Add ServiceStack Reference with the official tool, then update it in place as users do.
mkdirSync(workDir, { recursive: true });
const cli = resolve("node_modules/.bin/typescript-ref");
const cliEnv = { ...process.env, SERVICESTACK_TELEMETRY_OPTOUT: "1" };
const added = execFileSync(cli, [base, "dtos.ts"], { cwd: workDir, env: cliEnv }).toString();
const updated = execFileSync(cli, ["dtos.ts"], { cwd: workDir, env: cliEnv }).toString();
const source = readFileSync(join(workDir, "dtos.ts"), "utf8");
const js = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2020 },
}).outputText;
writeFileSync(join(workDir, "dtos.mjs"), js);
const dtos = await import(pathToFileURL(join(workDir, "dtos.mjs")).href);
const { MakePaymentRequest, ClientType } = dtos;

// Every answer any client saw: status, path and the headers that matter here.
const seen = [];
function watch(client) {
  client.responseFilter = (res) => {
    seen.push({
      status: res.status,
      path: new URL(res.url).pathname,
      setCookie: res.headers.get("set-cookie"),
      xCookies: res.headers.get("x-cookies"),
      wwwAuthenticate: res.headers.get("www-authenticate"),
      location: res.headers.get("location"),
      autoBatchCompleted: res.headers.get("x-autobatch-completed"),
    });
  };
  return client;
}

function serverClient({ bearer = false, basePath } = {}) {
  const client = watch(new JsonServiceClient(base));
  if (basePath !== undefined) client.useBasePath(basePath);
  if (bearer) client.bearerToken = secret;
  else client.setCredentials(keyId, secret);
  return client;
}

function payment(token, paymentId = randomUUID()) {
  return new MakePaymentRequest({
    paymentId,
    paymentMethod: { type: "card", token },
    clientType: ClientType.IOS,
    storePaymentMethod: true,
    version: 2,
  });
}

/** The item inside a `data` string, or null. */
function item(data) {
  try {
    return JSON.parse(data).items ?? null;
  } catch {
    return null;
  }
}

/** Runs a call, recording what it resolved to or threw, and the answers it caused. */
async function run(name, call) {
  const from = seen.length;
  const started = Date.now();
  const entry = { name };
  try {
    const result = await call();
    entry.resolved = true;
    entry.result = result === undefined ? null : JSON.parse(JSON.stringify(result));
    if (result && typeof result === "object" && "succeeded" in result) {
      entry.api = {
        succeeded: result.succeeded,
        failed: result.failed,
        errorCode: result.errorCode ?? null,
        errorMessage: result.errorMessage ?? null,
        fieldNames: result.errors.map((e) => e.fieldName),
      };
    }
  } catch (e) {
    entry.resolved = false;
    entry.thrown = e?.responseStatus ? { responseStatus: e.responseStatus } : { text: String(e) };
  }
  entry.ms = Date.now() - started;
  entry.answers = seen.slice(from);
  return entry;
}

const report = { added: added.trim(), updated: updated.trim(), dtoHeader: source.split("\n").slice(0, 5), calls: [] };
const calls = report.calls;

// 2. Every mode a server or an app uses, on the default `/api` base path.
calls.push(await run("post", () => serverClient().post(payment(INSTANT))));
calls.push(await run("api", () => serverClient().api(payment(INSTANT))));
calls.push(await run("send", () => serverClient().send(payment(INSTANT))));
calls.push(await run("bearer_post", () => serverClient({ bearer: true }).post(payment(INSTANT))));
calls.push(await run("json_api_client", () => {
  const client = watch(JsonApiClient.create(base));
  client.setCredentials(keyId, secret);
  return client.api(payment(INSTANT));
}));

// 3. basePath null: /json/reply/ and /json/oneway/.
calls.push(await run("reply_post", () => serverClient({ basePath: null }).post(payment(INSTANT))));
calls.push(await run("oneway", () => serverClient({ basePath: null }).sendOneWay(payment(ASYNC_2S))));
calls.push(await run("oneway_api_base", () => serverClient().sendOneWay(payment(INSTANT))));

// 4. A payment answered later: the 202 as `api()` reports it, then the status link.
const pending = await run("pending_api", () => {
  const client = serverClient();
  client.headers.set("Prefer", "respond-async");
  return client.api(payment(ASYNC_2S));
});
calls.push(pending);
const statusLink = pending.answers[0]?.location;
if (statusLink) {
  calls.push(await run("status_link", () => serverClient().get(`${statusLink}?wait=15`)));
}

// 5. Errors as the client surfaces them.
calls.push(await run("validation", () =>
  serverClient().api(new MakePaymentRequest({ clientType: "Nope", version: 1 }))));
calls.push(await run("validation_thrown", () =>
  serverClient().post(new MakePaymentRequest({ paymentMethod: { token: INSTANT }, clientType: ClientType.Web }))));
calls.push(await run("unauthorized", () => {
  const client = watch(new JsonServiceClient(base));
  client.setCredentials(keyId, "not-the-secret-at-all");
  return client.api(payment(INSTANT));
}));
calls.push(await run("unauthorized_bearer", () => {
  const client = watch(new JsonServiceClient(base));
  client.bearerToken = "not-a-known-secret";
  return client.post(payment(INSTANT));
}));
class NoSuchRequest {
  getTypeName() { return "NoSuchRequest"; }
  getMethod() { return "POST"; }
  createResponse() { return {}; }
}
calls.push(await run("unknown_operation", () => serverClient().api(new NoSuchRequest())));
calls.push(await run("unknown_operation_reply", () => serverClient({ basePath: null }).post(new NoSuchRequest())));
// 6. Auto-batched requests: sendAll posts the array to /api/MakePaymentRequest[].
calls.push(await run("send_all", () => serverClient().sendAll([payment(INSTANT), payment(INSTANT)])));
const afterInvalid = randomUUID();
calls.push(await run("send_all_stops", () => serverClient().sendAll([
  payment(INSTANT),
  new MakePaymentRequest({ paymentMethod: { token: INSTANT }, clientType: "Nope" }),
  payment(NEVER, afterInvalid),
])));
// Had the payment after the invalid one run, it would still be in flight (its backend never
// answers) and this would be a 409.
calls.push(await run("after_stopped_batch", () => serverClient().post(payment(INSTANT, afterInvalid))));
const inFlight = randomUUID();
calls.push(await run("conflict_first", () => {
  const client = serverClient();
  client.headers.set("Prefer", "respond-async");
  return client.post(payment(NEVER, inFlight));
}));
calls.push(await run("conflict_second", () => serverClient().api(payment(NEVER, inFlight))));

report.allAnswers = seen;
console.log(JSON.stringify(report));
