// Debian's headless Chromium for the browser tests (/usr/bin/chromium), with the flags this closed machine needs; never downloads a browser.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/// A fresh browser profile; `close()` ends Chromium and removes the profile.
export async function launch(options = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'edgepay-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    ...options,
    // Without the background-networking flags Chromium keeps trying hosts this machine cannot reach.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
