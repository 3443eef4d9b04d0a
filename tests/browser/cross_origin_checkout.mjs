// A merchant's checkout page on another origin pays through edgepay in headless Chromium, with a
// client token from a small merchant-server stand-in, through the browser's real CORS preflight:
// once with plain fetch and once with @servicestack/client loaded in the page.
//
//   node tests/browser/cross_origin_checkout.mjs <gateway> <allowed port> <blocked port> <key id> <secret>
//
// It serves the same page on two loopback origins: one the tenant allows, one no tenant allows.
// The merchant server (POST /token on the page's own origin) holds the server credential and
// mints tokens with POST /client-tokens; the page never sees the secret. It asserts nothing
// itself: it prints what each page saw as JSON, which tests/e2e_browser_checkout.rs asserts.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { launch } from './chromium.mjs';

const [gateway, allowedPort, blockedPort, keyId, secret] = process.argv.slice(2);
if (!gateway || !allowedPort || !blockedPort || !keyId || !secret) {
  console.error('usage: cross_origin_checkout.mjs <gateway> <allowed port> <blocked port> <key id> <secret>');
  process.exit(2);
}
const watchdog = setTimeout(() => {
  console.error('cross_origin_checkout: gave up after 100 s');
  process.exit(3);
}, 100_000);

const clientModule = readFileSync(resolve('node_modules/@servicestack/client/dist/servicestack-client.mjs'));

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Shop checkout</title></head>
<body><h1>Checkout</h1><pre id="out">paying…</pre>
<script type="module">
import { JsonServiceClient } from '/servicestack-client.mjs';
const gateway = ${JSON.stringify(gateway)};
const params = new URLSearchParams(location.search);
const item = params.get('item');
const paymentId = params.get('paymentId');
const account = params.get('account');

class MakePaymentResponse { constructor(init) { Object.assign(this, init); } }
class MakePaymentRequest {
  constructor(init) { Object.assign(this, init); }
  getTypeName() { return 'MakePaymentRequest'; }
  getMethod() { return 'POST'; }
  createResponse() { return new MakePaymentResponse(); }
}

async function run() {
  const report = {};
  // 1. The merchant's own server mints the tokens; the page only ever holds those.
  const minted = await (await fetch('/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ item, paymentId }),
  })).json();
  report.minted = { zai: !!minted.zai, servicestack: !!minted.servicestack };

  // 2. Plain fetch: PATCH with Authorization, Idempotency-Key and Prefer, so a real preflight.
  try {
    const r = await fetch(gateway + '/items/' + item + '/make_payment', {
      method: 'PATCH',
      headers: {
        'Authorization': 'Bearer ' + minted.zai,
        'Content-Type': 'application/json',
        'Idempotency-Key': crypto.randomUUID(),
        'Prefer': 'wait=5',
      },
      body: JSON.stringify({ account_id: account }),
    });
    const body = await r.json();
    report.fetch = {
      status: r.status,
      state: body.items ? body.items.state : (body.state || null),
      contentLocation: r.headers.get('content-location'),
      location: r.headers.get('location'),
      requestId: r.headers.get('x-request-id'),
    };
  } catch (e) {
    report.fetch = { error: String(e) };
  }

  // 3. Another item with the same token: refused, and the page can read why.
  try {
    const r = await fetch(gateway + '/items/' + item + '-other/make_payment', {
      method: 'PATCH',
      headers: { 'Authorization': 'Bearer ' + minted.zai, 'Content-Type': 'application/json' },
      body: JSON.stringify({ account_id: account }),
    });
    report.otherItem = { status: r.status, code: (await r.json()).code };
  } catch (e) {
    report.otherItem = { error: String(e) };
  }

  // 4. The real ServiceStack client (credentials: "include", Content-Type: application/json).
  try {
    const client = new JsonServiceClient(gateway);
    client.bearerToken = minted.servicestack;
    const api = await client.api(new MakePaymentRequest({
      paymentId, paymentMethod: { type: 'card', token: account }, clientType: 'Web',
    }));
    report.servicestack = {
      succeeded: api.succeeded,
      errorCode: api.errorCode || null,
      errorMessage: api.errorMessage || null,
      data: api.response ? api.response.data : null,
    };
  } catch (e) {
    report.servicestack = { error: String(e) };
  }
  document.getElementById('out').textContent = JSON.stringify(report, null, 2);
  window.__report = report;
}
run().catch((e) => { window.__report = { fatal: String(e) }; });
</script></body></html>`;

/// The merchant server stand-in: the page, the client module, and minting with the secret.
function merchantServer(port) {
  const server = createServer(async (req, res) => {
    try {
      if (req.method === 'GET' && req.url.startsWith('/servicestack-client.mjs')) {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        return res.end(clientModule);
      }
      if (req.method === 'GET' && req.url.startsWith('/checkout')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(PAGE);
      }
      if (req.method === 'POST' && req.url === '/token') {
        let raw = '';
        for await (const chunk of req) raw += chunk;
        const { item, paymentId } = JSON.parse(raw);
        const auth = 'Basic ' + Buffer.from(`${keyId}:${secret}`).toString('base64');
        const mint = async (body) => {
          const r = await fetch(gateway + '/client-tokens', {
            method: 'POST',
            headers: { authorization: auth, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          return r.status === 201 ? (await r.json()).token : null;
        };
        const tokens = { zai: await mint({ item }), servicestack: await mint({ payment_id: paymentId }) };
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(tokens));
      }
      res.writeHead(404);
      res.end();
    } catch (e) {
      res.writeHead(500);
      res.end(String(e));
    }
  });
  return new Promise((ok) => server.listen(Number(port), '127.0.0.1', () => ok(server)));
}

const servers = [await merchantServer(allowedPort), await merchantServer(blockedPort)];
const browser = await launch();
const context = browser.context;

const report = {};
try {
  for (const [name, port] of [['allowed', allowedPort], ['blocked', blockedPort]]) {
    const page = await context.newPage();
    const consoleErrors = [];
    page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(msg.text()); });
    const q = new URLSearchParams({
      item: `page-${name}-${Date.now()}`,
      paymentId: crypto.randomUUID(),
      account: name === 'allowed' ? '0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f' : 'deadbeef-0000-4000-8000-000000000000',
    });
    await page.goto(`http://127.0.0.1:${port}/checkout?${q}`, { waitUntil: 'load' });
    await page.waitForFunction(() => window.__report !== undefined, null, { timeout: 45_000 });
    report[name] = { ...(await page.evaluate(() => window.__report)), item: q.get('item'),
      paymentId: q.get('paymentId'), consoleErrors };
    await page.close();
  }
} finally {
  await browser.close();
  for (const s of servers) s.close();
  clearTimeout(watchdog);
}
console.log(JSON.stringify(report));
