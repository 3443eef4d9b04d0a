// Drives the sandbox checkout demo in headless Chromium and prints what the page showed, as JSON.
//
//   node tests/browser/demo_checkout.mjs <shop page URL> <server secret> [screenshot.png]
//
// The page is served by demo/merchant_server.mjs on its own origin and pays the gateway on
// another. The server secret is passed only so the report can say the page never held it. It
// asserts nothing itself: tests/e2e_demo_browser.rs starts the gateway and the merchant server,
// runs this with a deadline and asserts on the JSON. Exit status 0 means every step ran; anything else is a failure
// (with the reason on stderr). Uses Debian's Chromium (/usr/bin/chromium); never downloads one.
import { launch } from './chromium.mjs';

const [shop, serverSecret, screenshotPath] = process.argv.slice(2);
if (!shop || !shop.startsWith('http://127.0.0.1:') || !serverSecret) {
  console.error('usage: demo_checkout.mjs http://127.0.0.1:<port>/ <server secret> [screenshot.png]');
  process.exit(2);
}

// The whole run is bounded, whatever Chromium does.
const watchdog = setTimeout(() => {
  console.error('demo_checkout: gave up after 150 s');
  process.exit(3);
}, 150_000);

// Each scenario must end within this (the slowest, with a callback, takes about 4 s).
const SCENARIO_DEADLINE_MS = 45_000;

const browser = await launch({ viewport: { width: 1280, height: 900 } });
const context = browser.context;

const report = { scenarios: [], consoleErrors: [], pageErrors: [] };
try {
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') report.consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => report.pageErrors.push(String(err)));

  // Every request the page makes, by origin and method (the preflights are the browser's own).
  const requests = [];
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  // What the page holds: it must never see the server secret.
  let secretSeen = false;
  page.on('response', async (r) => {
    try {
      if ((await r.text()).includes(serverSecret)) secretSeen = true;
    } catch {
      // A body Chromium no longer has (a redirect, a preflight): nothing to look at.
    }
  });

  await page.goto(shop, { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.dataset.runs === '0', null, { timeout: 10_000 });
  report.title = await page.title();
  report.banner = await page.textContent('#sandbox-banner');
  report.pageOrigin = new URL(page.url()).origin;
  report.gateway = await page.getAttribute('meta[name="edgepay-gateway"]', 'content');

  // One payment: pick the scenario, set wait and callback, pay, wait for the run to end.
  async function pay(name, { scenario, wait, callback = false }) {
    const before = Number(await page.getAttribute('body', 'data-runs'));
    await page.check('#scenario-' + scenario);
    await page.fill('#wait', String(wait));
    await page.setChecked('#callback', callback);
    const item = await page.inputValue('#item');
    await page.click('#pay');
    await page.waitForFunction((n) => Number(document.body.dataset.runs) > n, before, {
      timeout: SCENARIO_DEADLINE_MS,
    });
    const shown = await page.evaluate(() => {
      const text = (id) => document.getElementById(id).textContent;
      return {
        state: document.getElementById('state').dataset.state,
        phases: Array.from(document.querySelectorAll('#timeline li'), (li) => li.dataset.phase),
        timeline: Array.from(document.querySelectorAll('#timeline li'), (li) => li.textContent),
        http: text('result-http'),
        requestId: text('result-request-id'),
        statusLink: text('result-status-link'),
        itemState: text('result-item-state'),
        message: text('result-message'),
        callbackLogShown: !document.getElementById('callback-log').hidden,
        callbacks: Array.from(document.querySelectorAll('#callback-rows tr'), (tr) =>
          Array.from(tr.cells, (td) => td.textContent),
        ),
      };
    });
    report.scenarios.push({ name, scenario, wait, item, ...shown });
    return shown;
  }

  await pay('instant', { scenario: 'instant', wait: 5 });
  await pay('slow-held', { scenario: 'slow', wait: 5 });
  await pay('slow-pending-with-callback', { scenario: 'slow', wait: 1, callback: true });
  if (screenshotPath) await page.screenshot({ path: screenshotPath, fullPage: true });
  await pay('decline', { scenario: 'decline', wait: 5 });
  await pay('error-recovers', { scenario: 'error-recovers', wait: 5 });
  await pay('error-fails', { scenario: 'error-fails', wait: 10 });
  await pay('held', { scenario: 'held', wait: 5 });

  // Markup in a response is shown as text. The gateway's payment answer is replaced, in the
  // browser, by a 400 whose detail carries markup (`<img/id=injected>` parses as an element with
  // id `injected` if it is ever parsed as HTML).
  const paymentRoute = report.gateway + '/items/**';
  await page.route(paymentRoute, (route) =>
    route.fulfill({
      status: 400,
      headers: { 'content-type': 'application/problem+json', 'access-control-allow-origin': report.pageOrigin },
      body: JSON.stringify({ title: 'Invalid request', detail: 'callback: unknown placeholder {<img/id=injected>}' }),
    }),
  );
  const injected = await pay('markup-in-response', { scenario: 'instant', wait: 0 });
  await page.unroute(paymentRoute);
  report.markup = {
    shownAsText: injected.message.includes('<img/id=injected>'),
    elementCreated: await page.evaluate(() => document.getElementById('injected') !== null),
  };

  // A tampered token (one character of its signature changed on the way from the shop's
  // server): the gateway's 401 is shown as an error.
  await page.route(shop.replace(/\/$/, '') + '/token', async (route) => {
    const minted = await (await route.fetch()).json();
    // A character inside the signature (a base64url string's last one may carry only padding bits).
    const at = minted.token.length - 5;
    const swapped = minted.token[at] === 'A' ? 'B' : 'A';
    minted.token = minted.token.slice(0, at) + swapped + minted.token.slice(at + 1);
    await route.fulfill({ status: 201, contentType: 'application/json', body: JSON.stringify(minted) });
  });
  await pay('tampered-token', { scenario: 'instant', wait: 0 });
  await page.unroute(shop.replace(/\/$/, '') + '/token');

  report.requests = requests;
  report.secretSeen = secretSeen
    || (await page.evaluate((s) => document.documentElement.outerHTML.includes(s), serverSecret));

  // Another origin cannot frame the page: the frame never gets the demo's document.
  const framer = await context.newPage();
  await framer.setContent(`<iframe id="f" src="${shop}" width="400" height="300"></iframe>`);
  await framer.waitForFunction(() => document.getElementById('f') !== null);
  const frame = await (await framer.$('#f')).contentFrame();
  await frame.waitForLoadState('load', { timeout: 10_000 }).catch(() => {});
  let framedPayButton = false;
  try {
    framedPayButton = await frame.evaluate(() => document.getElementById('pay') !== null);
  } catch {
    framedPayButton = false;
  }
  report.framing = { frameUrl: frame.url(), payButtonInFrame: framedPayButton };
} finally {
  await browser.close();
  clearTimeout(watchdog);
}

process.stdout.write(JSON.stringify(report) + '\n');
