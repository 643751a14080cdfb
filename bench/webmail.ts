/**
 * npm run bench:webmail -- [--messages 100000] [--rounds 5]
 * Fills one account over SMTP, then times the webmail's first screen in Debian's headless Chromium on
 * loopback: from loading https://<host>/mail/ (signed in: the session cookie is kept) to the folder
 * list and 50 messages drawn — and, apart, the JMAP request that screen makes (Mailbox/get,
 * Email/query with threads collapsed, Email/get of 50). Prints the medians and the first screen's
 * JavaScript and CSS, gzipped. Targets (issue: webmail): under 300 ms, under 200 KB.
 * Bounded: fixed counts, a deadline on every wait.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { openBrowser } from '../test/helpers/browser.js';
import { RawSmtp } from '../test/helpers/smtp-client.js';
import { median, startPostern } from './lib.js';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '5' } },
});
const N = Number(values.messages);
const ROUNDS = Number(values.rounds);
const USER = 'bench@example.com';
const PASSWORD = 'bench password 1';

const assets = path.resolve('dist/web/mail/assets');
const gzipped = readdirSync(assets)
  .filter((f) => /\.(js|css)$/.test(f))
  .reduce((n, f) => n + gzipSync(readFileSync(path.join(assets, f))).length, 0);

/**
 * Run in the page (a string: the bundler's helpers do not exist there): the first screen's JMAP
 * request with the page's session, timed.
 */
const TIME_REQUEST = `(async () => {
  const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
  const csrf = (await (await fetch('/mail/api/session')).json()).csrf;
  const accountId = (await (await fetch('/jmap/session')).json()).primaryAccounts['urn:ietf:params:jmap:mail'];
  const api = (methodCalls) =>
    fetch('/jmap/api', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ using, methodCalls }),
    }).then((r) => r.json());
  const boxes = await api([['Mailbox/get', { accountId, ids: null, properties: ['role'] }, 'b']]);
  const inbox = boxes.methodResponses[0][1].list.find((m) => m.role === 'inbox').id;
  const start = performance.now();
  await api([
    ['Mailbox/get', { accountId, ids: null }, 'b'],
    ['Email/query', { accountId, filter: { inMailbox: inbox }, sort: [{ property: 'receivedAt', isAscending: false }],
      collapseThreads: true, limit: 50, calculateTotal: true }, 'q'],
    ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' },
      properties: ['subject', 'from', 'receivedAt', 'keywords', 'preview', 'threadId', 'hasAttachment'] }, 'g'],
  ]);
  return performance.now() - start;
})()`;

const server = await startPostern(['smtp', 'https']);
const { browser, page } = await openBrowser(['mail.example.com']);
try {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      const c = await RawSmtp.connect(server.port('smtp'));
      while (next < N) {
        const i = next++;
        await c.send(
          'sender@remote.example',
          [USER],
          `From: Sender ${i % 50} <s${i % 50}@remote.example>\r\nTo: ${USER}\r\nSubject: bench message ${i}\r\nMessage-ID: <m${i}@remote.example>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\nmessage ${i} of the benchmark, a few words of text\r\n`,
        );
      }
      c.close();
    }),
  );
  console.log(`filled ${N} messages in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  const url = `https://mail.example.com:${server.port('https')}/mail/`;
  await page.goto(url);
  await page
    .getByLabel('Mail address')
    .waitFor({ timeout: 10_000 })
    .catch(async () => {
      throw new Error(`no sign-in page at ${url}: ${(await page.content()).slice(0, 300)}`);
    });
  await page.getByLabel('Mail address').fill(USER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('li.message').nth(49).waitFor({ timeout: 60_000 });

  const screens: number[] = [];
  const requests: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    await page.goto(url);
    await page.locator('.folders a.current').waitFor({ timeout: 30_000 });
    await page.locator('li.message').nth(49).waitFor({ timeout: 30_000 });
    screens.push(performance.now() - start);
    requests.push(await page.evaluate<number>(TIME_REQUEST));
  }
  const ms = (xs: number[]) => `${median(xs).toFixed(1)} ms`;
  console.log(`\nwebmail first screen, ${N} messages in the Inbox, median of ${ROUNDS}\n`);
  console.log('| measure | result | target |');
  console.log('|---|---|---|');
  console.log(`| page load to folders and 50 messages drawn | ${ms(screens)} | < 300 ms |`);
  console.log(`| its JMAP request (Mailbox/get, Email/query collapsed, Email/get 50) | ${ms(requests)} | |`);
  console.log(`| first screen's JavaScript and CSS, gzipped | ${(gzipped / 1024).toFixed(1)} KB | < 200 KB |`);
} finally {
  await browser.close();
  await server.stop();
}
