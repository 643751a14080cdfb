/** Debian's Chromium for the browser tests, driven by playwright-core, with the flags ../shared/WEB.md names. */
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { tempDir } from './tmp.js';

/** Headless, and no traffic of Chromium's own on this closed network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A browser on a new empty profile that resolves `hosts` to 127.0.0.1, its page, and the script
 * errors and CSP violations the page logs (not the 4xx answers an app shows, which Chromium logs as
 * failed resources).
 */
export async function openBrowser(hosts: string[]): Promise<{ browser: BrowserContext; page: Page; errors: string[] }> {
  const browser = await chromium.launchPersistentContext(tempDir(), {
    executablePath: '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, `--host-resolver-rules=${hosts.map((h) => `MAP ${h} 127.0.0.1`).join(', ')}`],
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource: .* status of 4\d\d/.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return { browser, page, errors };
}
