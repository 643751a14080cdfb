/**
 * The admin UI end to end in Debian's headless Chromium (driven by playwright-core): log in, add a
 * domain and an account, send the account mail with swaks and see its mailbox use change, rotate a
 * DKIM key, read the DNS records; no console error (a CSP violation would be one). Screenshots of
 * each screen go to a temp directory named in the test's output, to be looked at.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { addSuperadmin, totpCode } from './helpers/api.js';
import { CHROMIUM_ARGS } from './helpers/browser.js';
import { peer } from './helpers/peers.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { swaksReply } from './helpers/swaks.js';
import { tempDir } from './helpers/tmp.js';

const skip = peer('chromium', 'chromium') || peer('swaks', 'swaks') || undefined;

describe('admin UI in Chromium', { skip }, () => {
  let t: TestServer;
  let browser: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  // Kept where POSTERN_SCREENSHOTS says (a temp directory, removed after the run, otherwise).
  const shots = process.env.POSTERN_SCREENSHOTS ?? path.join(tempDir(), 'screenshots');
  const shot = async (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  before(async () => {
    mkdirSync(shots, { recursive: true });
    t = await startTestServer({ listeners: ['https', 'smtp'] });
    await t.server.directory.addDomain('example.com');
    await addSuperadmin(t.server, { user: 'root@example.com', password: 'root-secret-1' });
    // A new empty profile each run (launchPersistentContext takes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(tempDir(), {
      executablePath: '/usr/bin/chromium',
      args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP mail.example.com 127.0.0.1'],
      ignoreHTTPSErrors: true,
      viewport: { width: 1100, height: 800 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    // Script errors and CSP violations; not the API's 4xx answers the pages show (the first GET /session
    // without a session, a limit reached), which Chromium logs as failed resources.
    page.on('console', (m) => {
      if (m.type() === 'error' && !/^Failed to load resource: .* status of 4\d\d/.test(m.text())) errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    console.log(`# screenshots: ${shots}`);
  });

  it('logs in, adds a domain and an account, shows mail arriving in its quota bar, rotates DKIM and lists DNS records', async () => {
    const base = `https://mail.example.com:${t.port('https')}`;
    const first = await page.goto(`${base}/admin/`);
    assert.match(first!.headers()['content-security-policy'] ?? '', /script-src 'self';.*frame-ancestors 'none'/);
    await page.getByLabel('Admin address').fill('root@example.com');
    await page.getByLabel('Password').fill('root-secret-1');
    await shot('1-login');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByTestId('status-domains').waitFor();
    await shot('2-dashboard');

    await page.getByRole('link', { name: 'Domains' }).click();
    await page.getByLabel('Domain name').fill('ui.test');
    await page.getByRole('button', { name: 'Add domain' }).click();
    await page.getByRole('link', { name: 'ui.test' }).waitFor();
    await shot('3-domains');

    await page.getByRole('link', { name: 'ui.test' }).click();
    await page.getByRole('heading', { name: 'ui.test' }).waitFor();
    await page.getByLabel('Address (@ui.test)').fill('ann');
    await page.getByLabel('Password').fill('ann-secret-1');
    await page.getByLabel('Quota', { exact: true }).fill('10M');
    await page.getByRole('button', { name: 'Add account' }).click();
    const used = page.getByTestId('used-ann@ui.test');
    await used.getByText('0 B of 10 MB').waitFor();

    // Mail for Ann over SMTP: the bar shows it after a refresh.
    const reply = await swaksReply(t.port('smtp'), ['--from', 'x@sender.example', '--to', 'ann@ui.test']);
    assert.match(reply, /^250 /);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await used.getByText(/^[1-9]\d*(\.\d)? (B|KB) of 10 MB$/).waitFor();
    assert.doesNotMatch((await used.textContent()) ?? '', /^0 B/);
    await shot('4-domain');

    const keysBefore = await page.locator('ul.keys li').count();
    await page.getByRole('button', { name: 'Rotate key' }).click();
    await page.locator('ul.keys li').nth(keysBefore).waitFor();
    assert.equal(await page.locator('ul.keys li .status.pending').count(), 1);
    const pending = (await page.locator('ul.keys li', { hasText: 'pending' }).locator('strong').textContent())!;
    await page.locator('table.dns tr', { hasText: `${pending}._domainkey.ui.test.` }).waitFor(); // the record to publish
    const mx = page.locator('table.dns tr', { hasText: 'MX' }).first();
    assert.match((await mx.textContent()) ?? '', /mail\.example\.com/);
    await page.getByRole('button', { name: 'Check DNS now' }).click();
    await page.locator('.finding.sev-error').first().waitFor(); // the test's DNS publishes nothing for ui.test
    await shot('5-dkim-dns');

    // An alias, and the account disabled and enabled again.
    await page.getByLabel('Alias (@ui.test; empty for a catch-all)').fill('info');
    await page.getByLabel('Delivers to').fill('ann@ui.test');
    await page.getByRole('button', { name: 'Add alias' }).click();
    await page.getByText('info@ui.test').waitFor();
    const annRow = page.locator('tr', { hasText: 'ann@ui.test' });
    await annRow.getByRole('button', { name: 'Disable' }).click();
    await annRow.getByRole('button', { name: 'Enable' }).waitFor();
    assert.equal((await t.server.store.accounts.get('ann@ui.test'))!.isEnabled, false);
    await annRow.getByRole('button', { name: 'Enable' }).click();
    await annRow.getByRole('button', { name: 'Disable' }).waitFor();

    // Limits: one account at most, so a second is refused with what to change.
    await page.getByLabel('Most accounts').fill('1');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Limits saved.').waitFor();
    await page.getByLabel('Address (@ui.test)').fill('bob');
    await page.getByLabel('Password', { exact: true }).fill('bob-secret-1');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByText('domain ui.test may have at most 1 accounts; remove one or raise its max_accounts').waitFor();

    // Mail the filter held for Ann: shown as text and released into her mailbox.
    await t.server.store.quarantine.hold({
      qid: 'QUI1',
      recipient: 'ann@ui.test',
      accountId: (await t.server.store.accounts.get('ann@ui.test'))!.id,
      mailFrom: 'x@sender.example',
      subject: 'held for Ann',
      reason: 'spam score 9',
      score: 9,
      createdAt: new Date(),
      expiresAt: new Date(Date.now() + 86_400_000),
      content: Buffer.from('From: x@sender.example\r\nSubject: held for Ann\r\n\r\n<script>alert(1)</script>\r\n'),
    });
    await page.getByRole('link', { name: 'Quarantine' }).click();
    const heldRow = page.locator('tr', { hasText: 'held for Ann' });
    await heldRow.getByRole('button', { name: 'Show' }).click();
    await page.locator('pre.source', { hasText: '<script>alert(1)</script>' }).waitFor(); // text, not markup
    await shot('6-quarantine');
    await heldRow.getByRole('button', { name: 'Release' }).click();
    await page.getByText('Nothing is held.').waitFor();

    // The dashboard counts the message swaks sent (received, in the last hour and the last day).
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page
      .getByRole('img', { name: /^Mail in: received [1-9]/ })
      .first()
      .waitFor();
    await shot('5b-dashboard-charts');
    // The doctor's status of every domain: ui.test's from its DNS check above, example.com's once all
    // are checked when asked (the test's DNS publishes nothing).
    const dns = page.getByRole('region', { name: 'DNS of the domains' });
    await dns.locator('li.error', { hasText: /ui\.test: \d+ to fix: .*\(checked / }).waitFor();
    await dns.getByText('example.com: not checked yet').waitFor();
    await dns.getByRole('button', { name: 'Check all now' }).click();
    await dns.locator('li.error', { hasText: /example\.com: \d+ to fix: .*\(checked / }).waitFor();
    await shot('5c-dashboard-dns');

    // A domain admin for ui.test, and the log searched for Ann's address.
    await page.getByRole('link', { name: 'Admins' }).click();
    await page.getByLabel('Address').fill('ops@ui.test');
    await page.getByLabel('Password').fill('ops-secret-1');
    await page.getByLabel('Domains (empty: superadmin)').fill('ui.test');
    await page.getByRole('button', { name: 'Add admin' }).click();
    await page.locator('tr', { hasText: 'ops@ui.test' }).getByText('ui.test', { exact: true }).waitFor();
    await page.getByRole('link', { name: 'Log', exact: true }).click();
    await page.getByLabel('Connection id, address or queue id').fill('ann@ui.test');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('table.log tbody tr').first().waitFor();
    assert.ok((await page.locator('table.log tbody tr').count()) > 0);
    await shot('7-log');

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByText('account.add ann@ui.test').waitFor();
    await shot('8-audit');
    // A phone-sized screen.
    await page.setViewportSize({ width: 375, height: 740 });
    await page.getByRole('link', { name: 'Domains' }).click();
    await page.getByRole('link', { name: 'ui.test' }).waitFor();
    await shot('8-phone-domains');
    await page.getByRole('link', { name: 'ui.test' }).click();
    await page.getByRole('heading', { name: 'ui.test' }).waitFor();
    await shot('8-phone-domain');
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page
      .getByRole('img', { name: /^Mail in/ })
      .first()
      .waitFor();
    await shot('8-phone-dashboard');
    assert.deepEqual(errors, []);
  });

  it('turns two-factor login on from the security page, after which logging in asks for the code', async () => {
    await page.setViewportSize({ width: 1100, height: 800 });
    await page.goto(`https://mail.example.com:${t.port('https')}/admin/#/security`);
    await page.getByRole('heading', { name: 'Security' }).waitFor();
    await page.getByLabel('Token for').fill('monitoring');
    await page.getByRole('button', { name: 'Make token (90 days)' }).click();
    assert.match((await page.getByTestId('new-token').textContent()) ?? '', /^pst_/);
    await page.getByRole('button', { name: 'Set up two-factor login' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())!;
    await page.getByLabel('Code').fill(await totpCode(secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('On: logging in asks for a code.').waitFor();
    await shot('9-security');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Admin address').fill('root@example.com');
    await page.getByLabel('Password').fill('root-secret-1');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Wrong address, password or code.').waitFor();
    await page.getByLabel('Two-factor code (if on)').fill(await totpCode(secret));
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Security' }).waitFor();
  });

  it('lets an account owner change their password and make an app password at /account/', async () => {
    await t.server.directory.addAccount('bob@example.com', 'bob-secret-1', { quotaBytes: 5 * 1024 * 1024 });
    await page.setViewportSize({ width: 900, height: 700 });
    await page.goto(`https://mail.example.com:${t.port('https')}/account/`);
    const login = async (password: string) => {
      await page.getByLabel('Mail address').fill('bob@example.com');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Log in' }).click();
    };
    await login('bob-secret-1');
    await page.getByText('0 B of 5 MB').waitFor();
    await page.getByLabel('Current password').fill('bob-secret-1');
    await page.getByLabel('New password').fill('bob-new-secret-2');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed.').waitFor();
    await page.getByLabel('For (e.g. phone)').fill('phone');
    await page.getByRole('button', { name: 'Make app password' }).click();
    assert.match((await page.getByTestId('app-password').textContent()) ?? '', /^[a-z2-7]{4}(-[a-z2-7]{4}){4}$/);
    // The same app password as a bearer token, which logs in to JMAP.
    const token = (await page.getByTestId('app-token').textContent()) ?? '';
    assert.match(token, /^pap_\d+_[a-z2-7]{20}$/);
    // From the page itself (the browser reaches mail.example.com; the test process does not).
    const session = await page.evaluate(async (bearer) => {
      const r = await fetch('/jmap/session', { headers: { authorization: `Bearer ${bearer}` } });
      return { status: r.status, username: ((await r.json()) as { username: string }).username };
    }, token);
    assert.deepEqual(session, { status: 200, username: 'bob@example.com' });
    await shot('10-account');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('10-account-phone');
    await page.setViewportSize({ width: 900, height: 700 });
    await page.getByRole('button', { name: 'Log out' }).click();
    await login('bob-secret-1');
    await page.getByText('Wrong address or password.').waitFor();
    await login('bob-new-secret-2');
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.deepEqual(errors, []);
  });
  it('lets an account owner set a vacation reply, forwarding and a filter at /account/, which delivery then follows', async () => {
    await t.server.directory.addAccount('cy@example.com', 'cy-secret-1');
    await page.setViewportSize({ width: 1100, height: 800 });
    await page.goto(`https://mail.example.com:${t.port('https')}/account/`);
    await page.getByLabel('Mail address').fill('cy@example.com');
    await page.getByLabel('Password').fill('cy-secret-1');
    await page.getByRole('button', { name: 'Log in' }).click();

    const vacation = page.getByRole('region', { name: 'Vacation reply' });
    await vacation.getByLabel('Answer mail automatically').check();
    await vacation.getByLabel('Subject', { exact: true }).fill('Away this week');
    await vacation.getByLabel('Message').fill('Back on Monday.');
    await vacation.getByRole('button', { name: 'Save vacation reply' }).click();
    await vacation.getByText('Saved.').waitFor();

    const forwarding = page.getByRole('region', { name: 'Forwarding' });
    await forwarding.getByLabel('Forward my mail').check();
    await forwarding.getByLabel('To (up to 4 addresses)').fill('cy@elsewhere.example');
    await forwarding.getByRole('button', { name: 'Save forwarding' }).click();
    await forwarding.getByText('Saved.').waitFor();
    // A mistake is answered with what to fix, and nothing is saved.
    await forwarding.getByLabel('To (up to 4 addresses)').fill('cy@example.com');
    await forwarding.getByRole('button', { name: 'Save forwarding' }).click();
    await forwarding.getByText('forwarding to the account itself would loop').waitFor();

    const filters = page.getByRole('region', { name: 'Filters' });
    await filters.getByRole('button', { name: 'Add filter' }).click();
    const filter = filters.getByRole('group', { name: 'Filter 1' });
    await filter.getByLabel('Field').selectOption('subject');
    await filter.getByLabel('Value').fill('invoice');
    await filter.getByLabel('Folder').fill('Bills');
    await filters.getByRole('button', { name: 'Save filters' }).click();
    await filters.getByText('Saved.').waitFor();
    await shot('11-account-rules');

    const reply = await swaksReply(t.port('smtp'), [
      '--from',
      'x@sender.example',
      '--to',
      'cy@example.com',
      '--header',
      'Subject: invoice 42',
    ]);
    assert.match(reply, /^250 /);
    const account = (await t.server.store.accounts.get('cy@example.com'))!;
    assert.equal((await t.server.store.sieve.active(account.id))?.name, 'account-rules');
    let filed: Awaited<ReturnType<typeof mailbox>> = [];
    for (let i = 0; i < 100 && filed.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      filed = await mailbox(t.server, 'cy@example.com', 'Bills').catch(() => []);
    }
    assert.equal(filed.length, 1, 'filed into Bills by the filter made in the form');
    // What was saved is what the page shows after a reload.
    await page.reload();
    await page.getByLabel('Mail address').fill('cy@example.com');
    await page.getByLabel('Password').fill('cy-secret-1');
    await page.getByRole('button', { name: 'Log in' }).click();
    assert.equal(
      await page.getByRole('region', { name: 'Vacation reply' }).getByLabel('Message').inputValue(),
      'Back on Monday.',
    );
    assert.equal(await page.getByRole('group', { name: 'Filter 1' }).getByLabel('Folder').inputValue(), 'Bills');
    await page.setViewportSize({ width: 390, height: 800 });
    await shot('12-account-rules-phone');
    assert.deepEqual(errors, []);
  });
});
