// Drives the operators' dashboard in headless Chromium and prints what the page showed, as JSON.
//
//   node tests/browser/dashboard.mjs <gateway URL> <key id> <secret> [screenshot.png]
//
// It signs in with a server credential, waits for the last hour to load, reads the chart, the
// figures and the failure list, opens one failure's delivery log, presses "Replay dead letters"
// and reads the answer. It asserts nothing itself: tests/e2e_operators.rs asserts on the JSON.
// Uses Debian's Chromium (/usr/bin/chromium); never downloads one.
import { launch } from './chromium.mjs';

const [gateway, keyId, secret, screenshotPath] = process.argv.slice(2);
if (!gateway || !gateway.startsWith('http://127.0.0.1:') || !keyId || !secret) {
  console.error('usage: dashboard.mjs http://127.0.0.1:<port> <key id> <secret> [screenshot.png]');
  process.exit(2);
}

const watchdog = setTimeout(() => {
  console.error('dashboard: gave up after 100 s');
  process.exit(3);
}, 100_000);

const browser = await launch({ viewport: { width: 1100, height: 900 } });
const context = browser.context;

const report = { consoleErrors: [], pageErrors: [], requests: [] };
try {
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') report.consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => report.pageErrors.push(String(err)));
  page.on('request', (r) => report.requests.push(`${r.method()} ${new URL(r.url()).pathname}`));

  const resp = await page.goto(`${gateway}/dashboard`, { waitUntil: 'load' });
  report.status = resp.status();
  report.csp = resp.headers()['content-security-policy'] || null;
  report.title = await page.title();

  await page.fill('#key-id', keyId);
  await page.fill('#secret', secret);
  await page.click('#load');
  await page.waitForFunction(() => document.querySelector('#load-state').dataset.state !== 'busy'
    && document.querySelector('#load-state').dataset.state !== 'idle', null, { timeout: 30_000 });
  report.loadState = await page.getAttribute('#load-state', 'data-state');
  report.loadText = await page.textContent('#load-state');
  // The credential is not left in the form, nor in any storage.
  report.secretFieldAfter = await page.inputValue('#secret');
  report.storage = await page.evaluate(() => localStorage.length + sessionStorage.length + document.cookie.length);

  report.bars = await page.$$eval('#chart svg rect.bar', (rects) =>
    rects.map((r) => ({ state: r.dataset.state, count: Number(r.dataset.count) })));
  report.p50 = await page.textContent('#p50');
  report.p99 = await page.textContent('#p99');
  report.results = await page.textContent('#results');
  report.callbacks = await page.$$eval('#callbacks dd', (dds) =>
    Object.fromEntries(dds.map((d) => [d.dataset.callbackState, Number(d.textContent)])));
  report.failures = await page.$$eval('#failures tbody tr', (rows) => rows.map((tr) => ({
    requestId: tr.dataset.requestId,
    cells: [...tr.cells].map((c) => c.textContent),
  })));

  // One failure's delivery log (or status), shown in the page.
  const link = await page.$('#failures tbody tr button.link:last-of-type');
  if (link) {
    await link.click();
    await page.waitForFunction(() => document.querySelector('#detail').textContent.trim().startsWith('{'),
      null, { timeout: 10_000 });
    report.detail = JSON.parse(await page.textContent('#detail'));
  }

  await page.click('#replay');
  await page.waitForFunction(() => ['ok', 'error'].includes(document.querySelector('#replay-state').dataset.state),
    null, { timeout: 30_000 });
  report.replayState = await page.getAttribute('#replay-state', 'data-state');
  report.replayText = await page.textContent('#replay-state');

  if (screenshotPath) await page.screenshot({ path: screenshotPath, fullPage: true });
} catch (e) {
  console.error(String(e && e.stack || e));
  await browser.close();
  process.exit(1);
}
await browser.close();
clearTimeout(watchdog);
console.log(JSON.stringify(report));
