// The checkout demo's merchant server: serves the shop's page on its own origin, mints client
// tokens with the server credential it keeps, and verifies the callbacks edgepay sends it.
//
//   node demo/merchant_server.mjs          (`make dev` starts it on http://127.0.0.1:8788)
//
// It plays the part of a merchant's own backend, in the three steps of docs/callers.md ("Calling
// edgepay from a browser or an app"): (1) POST /token mints a token for one item with POST /client-tokens,
// (2) the page pays edgepay directly with that token, cross-origin, (3) POST /callbacks/{item}
// verifies edgepay's Standard Webhooks signature with the `standardwebhooks` library before it
// believes a result. The page never sees the server credential or the callback secret.
//
// Configuration (environment; a missing credential is read from the first API client in
// .dev.vars, so `make dev` needs none):
//   EDGEPAY_URL (http://127.0.0.1:8787)  MERCHANT_PORT (8788)
//   EDGEPAY_KEY_ID, EDGEPAY_SECRET, EDGEPAY_CALLBACK_SECRET
// Development only: it listens on loopback, keeps orders in memory and logs no secret.
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';

const HERE = dirname(fileURLToPath(import.meta.url));
const GATEWAY = new URL(process.env.EDGEPAY_URL || 'http://127.0.0.1:8787').origin;
const PORT = Number(process.env.MERCHANT_PORT || 8788);
const SELF = `http://127.0.0.1:${PORT}`;
// A token lives 10 minutes: one checkout, with room for a slow shopper.
const TOKEN_TTL_SECS = 600;
const MAX_BODY_BYTES = 64 * 1024;
const ITEM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
// Orders remembered (oldest dropped first), and callbacks kept per order.
const MAX_ORDERS = 500;
const MAX_CALLBACKS_PER_ORDER = 20;

/** The credential from the environment, or from the first API client in .dev.vars. */
function credential() {
  const fromEnv = {
    keyId: process.env.EDGEPAY_KEY_ID,
    secret: process.env.EDGEPAY_SECRET,
    callbackSecret: process.env.EDGEPAY_CALLBACK_SECRET,
  };
  if (fromEnv.keyId && fromEnv.secret && fromEnv.callbackSecret) return fromEnv;
  const vars = join(HERE, '..', '.dev.vars');
  if (!existsSync(vars)) {
    throw new Error('set EDGEPAY_KEY_ID, EDGEPAY_SECRET and EDGEPAY_CALLBACK_SECRET, or run `make dev` (it creates .dev.vars)');
  }
  const line = readFileSync(vars, 'utf8').split('\n').find((l) => l.startsWith('API_CLIENTS='));
  const raw = line ? line.slice('API_CLIENTS='.length).trim().replace(/^'(.*)'$/s, '$1') : '[]';
  const [first] = JSON.parse(raw);
  if (!first || !first.key_id || !first.secret || !first.callback_secret) {
    throw new Error('.dev.vars: API_CLIENTS has no client with key_id, secret and callback_secret');
  }
  return {
    keyId: fromEnv.keyId || first.key_id,
    secret: fromEnv.secret || first.secret,
    callbackSecret: fromEnv.callbackSecret || first.callback_secret,
  };
}

const CREDENTIAL = credential();
const BASIC = 'Basic ' + Buffer.from(`${CREDENTIAL.keyId}:${CREDENTIAL.secret}`).toString('base64');
const VERIFIER = new Webhook(CREDENTIAL.callbackSecret);

/** item → { callbacks: [{ webhookId, requestId, resultStatus, itemState, receivedAt, deliveries }] } */
const orders = new Map();
let rejectedCallbacks = 0;

function log(event, fields = {}) {
  process.stdout.write(JSON.stringify({ at: new Date().toISOString(), event, ...fields }) + '\n');
}

const ASSETS = {
  '/checkout.js': ['checkout.js', 'text/javascript; charset=utf-8'],
  '/checkout.css': ['checkout.css', 'text/css; charset=utf-8'],
};

// The page may talk to its own server and to edgepay, nothing else; no inline script or style.
const SECURITY_HEADERS = {
  'content-security-policy': `default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ${GATEWAY}; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-store',
};

function send(res, status, type, body, extra = {}) {
  res.writeHead(status, { 'content-type': type, ...SECURITY_HEADERS, ...extra });
  res.end(body);
}

function sendJson(res, status, value) {
  send(res, status, 'application/json', JSON.stringify(value));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function order(item) {
  let found = orders.get(item);
  if (!found) {
    if (orders.size >= MAX_ORDERS) orders.delete(orders.keys().next().value);
    found = { callbacks: [] };
    orders.set(item, found);
  }
  return found;
}

// Step 1: the page asks its own server for a token to pay one item. The server credential is
// used here, server-side, and never leaves this process.
async function mintToken(req, res) {
  let asked;
  try {
    asked = JSON.parse((await readBody(req)).toString('utf8') || '{}');
  } catch {
    return sendJson(res, 400, { error: 'the body must be JSON: {"item": "...", "callback": true}' });
  }
  const item = typeof asked.item === 'string' ? asked.item : '';
  if (!ITEM_PATTERN.test(item)) {
    return sendJson(res, 400, { error: 'item must be 1-64 letters, digits, "-" or "_"' });
  }
  const mint = { item, scope: 'payments:create payments:read', ttl_secs: TOKEN_TTL_SECS };
  // The token names the one callback URL it may ask for: this server's, for this item.
  const callback = asked.callback === true ? `${SELF}/callbacks/{item}` : undefined;
  if (callback) mint.callback = callback;
  let reply;
  try {
    reply = await fetch(`${GATEWAY}/client-tokens`, {
      method: 'POST',
      headers: { authorization: BASIC, 'content-type': 'application/json' },
      body: JSON.stringify(mint),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    log('mint_failed', { item, reason: String(err && err.message) });
    return sendJson(res, 502, { error: `edgepay at ${GATEWAY} did not answer: is \`make dev\` running?` });
  }
  const body = await reply.json().catch(() => ({}));
  if (reply.status !== 201 || typeof body.token !== 'string') {
    log('mint_refused', { item, status: reply.status });
    const why = body.detail || body.title || `HTTP ${reply.status}`;
    return sendJson(res, 502, { error: `edgepay refused to mint a token: ${why}` });
  }
  order(item);
  log('token_minted', { item, expires_at: body.expires_at, callback: Boolean(callback) });
  sendJson(res, 201, { token: body.token, expires_at: body.expires_at, gateway: GATEWAY, callback });
}

// Step 3: a callback is believed only once its signature verifies; it is kept once per webhook-id
// (delivery is at least once) and answered 204 at once.
async function receiveCallback(req, res, item) {
  let raw;
  try {
    raw = (await readBody(req)).toString('utf8');
  } catch {
    return sendJson(res, 413, { error: 'too large' });
  }
  let payload;
  try {
    payload = VERIFIER.verify(raw, req.headers);
  } catch (err) {
    rejectedCallbacks += 1;
    log('callback_rejected', { item, reason: String(err && err.message) });
    return sendJson(res, 400, { error: 'signature did not verify' });
  }
  const webhookId = String(req.headers['webhook-id']);
  const kept = order(item).callbacks;
  const seen = kept.find((c) => c.webhookId === webhookId);
  if (seen) {
    seen.deliveries += 1;
  } else if (kept.length < MAX_CALLBACKS_PER_ORDER) {
    const items = payload && typeof payload === 'object' ? payload.items : undefined;
    kept.push({
      webhookId,
      requestId: String(req.headers['edgepay-request-id'] || ''),
      resultStatus: Number(req.headers['edgepay-result-status']),
      itemState: items && typeof items === 'object' ? String(items.state) : String(payload && payload.state),
      receivedAt: new Date().toISOString(),
      verified: true,
      deliveries: 1,
    });
  }
  log('callback_verified', { item, webhook_id: webhookId, duplicate: Boolean(seen) });
  res.writeHead(204);
  res.end();
}

function page() {
  const html = readFileSync(join(HERE, 'checkout.html'), 'utf8');
  return html.replaceAll('{{gateway}}', GATEWAY).replaceAll('{{merchant}}', SELF);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, SELF);
  const path = url.pathname;
  try {
    if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
      return send(res, 200, 'text/html; charset=utf-8', page());
    }
    if (req.method === 'GET' && ASSETS[path]) {
      const [file, type] = ASSETS[path];
      return send(res, 200, type, readFileSync(join(HERE, file)));
    }
    if (req.method === 'POST' && path === '/token') return await mintToken(req, res);
    const callback = /^\/callbacks\/([^/]+)$/.exec(path);
    if (req.method === 'POST' && callback) return await receiveCallback(req, res, decodeURIComponent(callback[1]));
    const orderPath = /^\/orders\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && orderPath) {
      const found = orders.get(decodeURIComponent(orderPath[1]));
      return sendJson(res, found ? 200 : 404, { callbacks: found ? found.callbacks : [], rejected: rejectedCallbacks });
    }
    sendJson(res, 404, { error: 'no such route' });
  } catch (err) {
    log('error', { path, reason: String(err && err.message) });
    if (!res.headersSent) sendJson(res, 500, { error: 'merchant server error' });
  }
});

server.listen(PORT, '127.0.0.1', () => {
  log('listening', { page: `${SELF}/`, gateway: GATEWAY, key_id: CREDENTIAL.keyId });
});
