// edgepay sandbox checkout: a shop's page that pays edgepay cross-origin with a client token from
// its own server (demo/merchant_server.mjs), through the Zai route, and shows each state as it
// happens. Everything taken from a response is written with textContent, never parsed as HTML.
'use strict';

// edgepay's origin, set by the shop's server; this page is served from another one.
const GATEWAY = document.querySelector('meta[name="edgepay-gateway"]').content;

// The sandbox picks its outcome from the paying account id (docs/walkthrough.md, "Sandbox backend").
const ACCOUNTS = {
  instant: '0b0e3f6e-5b8a-4c1e-9d2f-3a4b5c6d7e8f',
  slow: 'a5c00000-0000-4000-8000-000000000003',
  decline: 'dec11e00-0000-4000-8000-000000000000',
  'error-recovers': '5e500000-0000-4000-8000-000000000001',
  'error-fails': '5e500000-0000-4000-8000-000000000000',
  held: '4e1d0000-0000-4000-8000-000000000000',
};

// A call the gateway has not answered after this long is being held open by it.
const HELD_AFTER_MS = 300;
// Long-polls of the status link: each held up to 10 s, at most 20 (over 3 min, longer than the
// sandbox's re-submission schedule under `make dev`, DEV_RETRY_DELAYS_MS).
const POLL_WAIT_SECS = 10;
const MAX_POLLS = 20;
// The shop's server is asked for the callbacks it verified every 500 ms for at most 30 s.
const CALLBACK_LOG_INTERVAL_MS = 500;
const MAX_CALLBACK_LOG_READS = 60;
const TERMINAL = new Set(['completed', 'declined', 'failed', 'error']);

const $ = (id) => document.getElementById(id);
let startedAt = 0;
let runs = 0;
// The client token for the payment under way (never a server credential).
let token = '';

function newItemId() {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  return 'order-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function setState(state, label) {
  const out = $('state');
  out.dataset.state = state;
  out.textContent = label || state;
}

function phase(name, detail) {
  const li = document.createElement('li');
  li.dataset.phase = name;
  const at = document.createElement('time');
  at.textContent = '+' + ((performance.now() - startedAt) / 1000).toFixed(2) + ' s';
  const strong = document.createElement('strong');
  strong.textContent = name;
  const text = document.createElement('span');
  text.className = 'detail';
  text.textContent = detail || '';
  li.append(at, ' ', strong, ' ', text);
  $('timeline').append(li);
}

function showField(id, value) {
  $(id).textContent = value === undefined || value === null || value === '' ? '\u2014' : String(value);
}

function showBody(text) {
  $('result-body-box').hidden = false;
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // Not JSON: shown as it came.
  }
  $('result-body').textContent = shown;
}

function authorization() {
  return 'Bearer ' + token;
}

// Only links to edgepay's request routes are followed.
function gatewayRequestLink(link) {
  try {
    const url = new URL(link, GATEWAY);
    return url.origin === GATEWAY && /^\/request\/[0-9a-f]{32}\/status$/.test(url.pathname)
      ? url.href
      : null;
  } catch {
    return null;
  }
}

function requestIdOf(link) {
  const match = /\/request\/([0-9a-f]{32})\/status$/.exec(link || '');
  return match ? match[1] : null;
}

async function call(url, init, timeoutSecs) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutSecs * 1000);
  try {
    // edgepay sets no cookies and needs none: the token travels in Authorization.
    const resp = await fetch(url, { ...init, signal: abort.signal, credentials: 'omit', cache: 'no-store' });
    const text = await resp.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: resp.status, headers: resp.headers, text, json };
  } finally {
    clearTimeout(timer);
  }
}

function problemMessage(json, text) {
  if (!json || typeof json !== 'object') return text.slice(0, 500);
  const parts = [json.title, json.detail].filter((p) => typeof p === 'string');
  if (Array.isArray(json.errors)) {
    for (const e of json.errors) {
      if (e && typeof e.message === 'string') parts.push(e.message);
    }
  }
  return parts.join(' \u2014 ') || text.slice(0, 500);
}

function declineMessage(json) {
  const base = json && json.errors && Array.isArray(json.errors.base) ? json.errors.base : [];
  return base.filter((m) => typeof m === 'string').join('; ');
}

function itemState(json) {
  const items = json && json.items;
  if (!items || typeof items !== 'object') return '';
  return String(items.state) + (items.status !== undefined ? ' (' + String(items.status) + ')' : '');
}

// Renders a final answer (from the payment call or the status link). Returns the end state.
function finish(reply) {
  const isProblem = (reply.headers.get('content-type') || '').includes('problem+json');
  showField('result-http', reply.status);
  showField('result-item-state', itemState(reply.json));
  showBody(reply.text);
  if (reply.status >= 200 && reply.status < 300) {
    phase('completed', 'HTTP ' + reply.status + ', item ' + itemState(reply.json));
    setState('completed', 'completed');
    showField('result-message', '');
    return 'completed';
  }
  if (reply.status === 502 && reply.json && reply.json.state === 'failed') {
    phase('failed', String(reply.json.message || ''));
    setState('failed');
    showField('result-message', reply.json.message);
    return 'failed';
  }
  if (reply.status >= 400 && reply.status < 500 && !isProblem) {
    const why = declineMessage(reply.json);
    phase('declined', 'HTTP ' + reply.status + (why ? ': ' + why : ''));
    setState('declined');
    showField('result-message', why);
    return 'declined';
  }
  const message = problemMessage(reply.json, reply.text);
  phase('error', 'HTTP ' + reply.status + ': ' + message);
  setState('error');
  showField('result-message', message);
  return 'error';
}

function showPending(reply, what) {
  const s = reply.json || {};
  showField('result-http', reply.status);
  showField('result-request-id', s.request_id);
  showField('result-message', s.message);
  showBody(reply.text);
  phase('pending', what + ': ' + String(s.state) + ', submission ' + String(s.submission_count));
  setState('pending', 'pending (' + String(s.state) + ')');
}

async function followStatusLink(link) {
  for (let poll = 1; poll <= MAX_POLLS; poll++) {
    phase('long-poll', 'GET status link, Prefer: wait=' + POLL_WAIT_SECS + ' (' + poll + '/' + MAX_POLLS + ')');
    const reply = await call(link, { headers: { authorization: authorization(), prefer: 'wait=' + POLL_WAIT_SECS } }, POLL_WAIT_SECS + 15);
    if (reply.status !== 202) return finish(reply);
    showPending(reply, 'still pending');
  }
  phase('pending', 'stopped watching after ' + MAX_POLLS + ' long-polls; the status link still answers');
  return 'pending';
}

function renderCallbackLog(entries) {
  const rows = $('callback-rows');
  rows.replaceChildren();
  entries.forEach((entry, i) => {
    const tr = document.createElement('tr');
    tr.dataset.resultStatus = String(entry.resultStatus);
    const verified = entry.verified === true ? 'verified' : 'not verified';
    for (const value of [i + 1, entry.receivedAt, entry.resultStatus, entry.itemState, verified]) {
      const td = document.createElement('td');
      td.textContent = value === null || value === undefined ? '\u2014' : String(value);
      tr.append(td);
    }
    rows.append(tr);
  });
}

// Step 3 happens on the shop's server: it verifies each callback's signature before it believes
// it. The page asks its own server what it has verified for this item.
async function watchCallbacks(item, requestId) {
  const box = $('callback-log');
  box.hidden = false;
  const url = '/orders/' + encodeURIComponent(item);
  for (let read = 0; read < MAX_CALLBACK_LOG_READS; read++) {
    const reply = await call(url, {}, 15);
    const all = reply.json && Array.isArray(reply.json.callbacks) ? reply.json.callbacks : [];
    const entries = all.filter((c) => c && c.requestId === requestId);
    renderCallbackLog(entries);
    if (entries.length > 0) {
      phase('callback', 'the shop\'s server verified the signed callback, result ' + String(entries[0].resultStatus));
      box.dataset.done = 'true';
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, CALLBACK_LOG_INTERVAL_MS));
  }
  phase('callback', 'no verified callback at the shop\'s server yet');
  box.dataset.done = 'true';
}

// Step 1 happens on the shop's server: it mints a client token for this one item.
async function fetchToken(item, withCallback) {
  const reply = await call('/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ item, callback: withCallback }),
  }, 15);
  if (reply.status !== 201 || !reply.json || typeof reply.json.token !== 'string') {
    throw new Error('the shop\'s server gave no token: ' + problemMessage(reply.json && { detail: reply.json.error }, reply.text));
  }
  return reply.json;
}

function resetView() {
  $('timeline').replaceChildren();
  $('callback-rows').replaceChildren();
  $('callback-log').hidden = true;
  $('callback-log').dataset.done = 'false';
  $('result').hidden = false;
  $('result-body-box').hidden = true;
  for (const id of ['result-http', 'result-request-id', 'result-status-link', 'result-item-state', 'result-message']) {
    showField(id, '');
  }
}

// One payment, from the token to the callback.
async function runPayment() {
  const scenario = new FormData($('checkout')).get('scenario');
  const account = ACCOUNTS[scenario] || ACCOUNTS.instant;
  const wait = Math.max(0, Math.min(30, Math.trunc(Number($('wait').value) || 0)));
  const item = $('item').value.trim();

  setState('token');
  let minted;
  try {
    minted = await fetchToken(item, $('callback').checked);
  } catch (err) {
    phase('error', String(err && err.message ? err.message : err));
    setState('error');
    return;
  }
  token = minted.token;
  $('token-state').textContent = 'for item ' + item + ', expires ' + String(minted.expires_at);
  phase('token', 'the shop\'s server minted a client token for ' + item + ', expires ' + String(minted.expires_at));
  // The token names the one callback URL it may ask for; the page sends exactly that.
  const callback = minted.callback || '';
  const body = { account_id: account };
  if (callback) body.callback = callback;

  setState('submitting');
  phase('submitting', 'PATCH ' + GATEWAY + '/items/' + item + '/make_payment, account ' + account + ', Prefer: wait=' + wait);
  const held = setTimeout(() => {
    phase('held', 'the gateway holds the call open for up to ' + wait + ' s');
    setState('held');
  }, HELD_AFTER_MS);
  let end = 'error';
  let requestId = null;
  try {
    const reply = await call(
      GATEWAY + '/items/' + encodeURIComponent(item) + '/make_payment',
      {
        method: 'PATCH',
        headers: { authorization: authorization(), 'content-type': 'application/json', prefer: 'wait=' + wait },
        body: JSON.stringify(body),
      },
      wait + 15,
    );
    clearTimeout(held);
    // Content-Location names the request on a backend answer; the status object links it otherwise.
    const link = gatewayRequestLink(
      reply.headers.get('content-location') || (reply.json && reply.json.links ? reply.json.links.status : null),
    );
    requestId = requestIdOf(link);
    showField('result-status-link', link);
    showField('result-request-id', requestId);
    if (reply.status === 202 && link) {
      showPending(reply, 'HTTP 202, not answered within ' + wait + ' s');
      end = await followStatusLink(link);
    } else {
      end = finish(reply);
    }
  } catch (err) {
    clearTimeout(held);
    phase('error', 'the call failed: ' + String(err && err.message ? err.message : err));
    setState('error');
  }
  if (callback && requestId && TERMINAL.has(end) && end !== 'error') {
    try {
      await watchCallbacks(item, requestId);
    } catch (err) {
      phase('callback', 'asking the shop\'s server for its callbacks failed: ' + String(err && err.message ? err.message : err));
      $('callback-log').dataset.done = 'true';
    }
  }
}

async function pay(event) {
  event.preventDefault();
  const button = $('pay');
  button.disabled = true;
  resetView();
  startedAt = performance.now();
  try {
    await runPayment();
  } finally {
    token = '';
    $('item').value = newItemId();
    button.disabled = false;
    runs += 1;
    document.body.dataset.runs = String(runs);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('item').value = newItemId();
  $('checkout').addEventListener('submit', pay);
  document.body.dataset.runs = '0';
});
