/**
 * The webmail end to end in Debian's headless Chromium (playwright-core): signing in, a message
 * delivered by swaks appearing without a reload, reading it, replying (the reply arrives, threaded),
 * attachments up and down, search, Junk (the classifier learns), a filter made in the form filing the
 * next message, the vacation reply, undo send and signing out. No console error (a CSP violation
 * would be one). Screenshots of each screen, desktop and phone, go to POSTERN_SCREENSHOTS or a temp
 * directory named in the output.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser } from './helpers/browser.js';
import { peer } from './helpers/peers.js';
import { mailbox, startTestServer, type TestServer } from './helpers/server.js';
import { swaksReply } from './helpers/swaks.js';
import { tempDir } from './helpers/tmp.js';

const skip = peer('chromium', 'chromium') || peer('swaks', 'swaks') || undefined;

/** Mail from `from` to `to` over SMTP, with swaks. */
export async function deliver(
  t: TestServer,
  from: string,
  to: string,
  subject: string,
  body: string,
  extra: string[] = [],
) {
  const reply = await swaksReply(t.port('smtp'), [
    '--from',
    from,
    '--to',
    to,
    '--header',
    `Subject: ${subject}`,
    '--body',
    body,
    ...extra,
  ]);
  assert.match(reply, /^250 /);
}

describe('webmail in Chromium', { skip }, () => {
  let t: TestServer;
  let browser: BrowserContext;
  let page: Page;
  let errors: string[];
  const shots = process.env.POSTERN_SCREENSHOTS ?? path.join(tempDir(), 'screenshots');
  const shot = async (name: string) => page.screenshot({ path: path.join(shots, `mail-${name}.png`) });
  let base: string;

  before(async () => {
    mkdirSync(shots, { recursive: true });
    t = await startTestServer({ listeners: ['https', 'smtp'] });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount('ann@example.com', 'ann-secret-1');
    await t.server.directory.addAccount('bob@example.com', 'bob-secret-1');
    ({ browser, page, errors } = await openBrowser(['mail.example.com', 'webmail.example.com']));
    base = `https://webmail.example.com:${t.port('https')}`;
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    console.log(`# screenshots: ${shots}`);
  });

  it('signs in at webmail.<domain>, shows a delivered message live, reads it and replies in its thread', async () => {
    const first = await page.goto(`${base}/`);
    assert.match(first!.headers()['content-security-policy'] ?? '', /script-src 'self';.*frame-ancestors 'none'/);
    await page.getByLabel('Mail address').fill('ann@example.com');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Wrong address or password.').waitFor();
    await page.getByLabel('Password').fill('ann-secret-1');
    await shot('1-sign-in');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Inbox' }).waitFor();
    const cookie = (await browser.cookies()).find((c) => c.name === 'postern_mail')!;
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Strict');

    // Delivered over SMTP while the page is open: it appears without a reload, and the Inbox counts it.
    await deliver(t, 'bob@example.com', 'ann@example.com', 'Lunch on Friday?', 'Shall we meet at noon?\nBob');
    const row = page.locator('li.message', { hasText: 'Lunch on Friday?' });
    await row.waitFor();
    await page.locator('.folders a.current .count', { hasText: '1' }).waitFor();
    await shot('2-inbox');
    await row.click();
    await page.locator('pre.body-text', { hasText: 'Shall we meet at noon?' }).waitFor();
    await page.locator('.folders a.current .count').waitFor({ state: 'detached' }); // read now
    await shot('3-read');

    await page.getByRole('button', { name: 'Reply', exact: true }).click();
    assert.equal(await page.getByLabel('To', { exact: true }).inputValue(), 'bob@example.com');
    assert.equal(await page.getByLabel('Subject', { exact: true }).inputValue(), 'Re: Lunch on Friday?');
    const body = page.getByLabel('Message', { exact: true });
    await body.fill(`Noon is fine.\n\n${await body.inputValue()}`);
    await shot('4-reply');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.locator('.toast, form.compose .error').first().waitFor();
    const refused = page.locator('form.compose .error');
    if ((await refused.count()) > 0) assert.fail(`the send was refused: ${await refused.textContent()}`);
    await page.getByRole('status').getByText('Sending…').waitFor();
    // Undo send holds it ten seconds on the server; then it is delivered to Bob, threaded.
    let bobs: Awaited<ReturnType<typeof mailbox>> = [];
    for (let i = 0; i < 100 && bobs.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      bobs = await mailbox(t.server, 'bob@example.com');
    }
    assert.equal(bobs.length, 1);
    assert.match(bobs[0]!.text, /^Subject: Re: Lunch on Friday\?/m);
    assert.match(bobs[0]!.text, /^In-Reply-To: <.+>/m);
    assert.match(bobs[0]!.text, /Noon is fine\./);
    assert.match(bobs[0]!.text, /^> Shall we meet at noon\?/m);
    // Ann's copy is in Sent.
    await page.getByRole('link', { name: 'Sent' }).click();
    await page.locator('li.message', { hasText: 'Re: Lunch on Friday?' }).waitFor();
    assert.deepEqual(errors, []);
  });

  it('undoes a send within its seconds: nothing leaves, the message is back in Drafts', async () => {
    await page.getByRole('button', { name: 'Write' }).click();
    await page.getByLabel('To', { exact: true }).fill('bob@example.com');
    await page.getByLabel('Subject', { exact: true }).fill('Never mind');
    await page.getByLabel('Message', { exact: true }).fill('Sent by mistake');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.getByRole('button', { name: 'Undo' }).click();
    await page.getByText('Not sent: the message is back in Drafts.').waitFor();
    await page.getByRole('link', { name: 'Drafts' }).click();
    await page.locator('li.message', { hasText: 'Never mind' }).waitFor();
    await new Promise((r) => setTimeout(r, 11_000));
    assert.equal((await mailbox(t.server, 'bob@example.com')).filter((m) => m.text.includes('Never mind')).length, 0);
  });

  it('sends an attachment picked from disk and downloads one received', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'notes.txt');
    writeFileSync(file, 'attached notes\n');
    await page.getByRole('button', { name: 'Write' }).click();
    await page.getByLabel('To', { exact: true }).fill('bob@example.com');
    await page.getByLabel('Subject', { exact: true }).fill('The notes');
    await page.getByLabel('Message', { exact: true }).fill('Attached.');
    await page.locator('form.compose input[type=file]').setInputFiles(file);
    await page.locator('form.compose li', { hasText: 'notes.txt' }).waitFor();
    await shot('5-attach');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    let got: Awaited<ReturnType<typeof mailbox>> = [];
    for (let i = 0; i < 100 && got.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      got = (await mailbox(t.server, 'bob@example.com')).filter((m) => m.text.includes('The notes'));
    }
    assert.equal(got.length, 1);
    assert.match(got[0]!.text, /filename="?notes\.txt/);
    assert.match(got[0]!.text, /YXR0YWNoZWQgbm90ZXMK|attached notes/);

    // Bob sends a file back; Ann downloads it.
    const pic = path.join(dir, 'report.csv');
    writeFileSync(pic, 'a,b\n1,2\n');
    await deliver(t, 'bob@example.com', 'ann@example.com', 'The report', 'See the file.', ['--attach', `@${pic}`]);
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.locator('li.message', { hasText: 'The report' }).click();
    const link = page.locator('.attachments a', { hasText: 'report.csv' });
    await link.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.equal(readFileSync((await download.path())!, 'utf8'), 'a,b\n1,2\n');
    await shot('6-attachment');
  });

  it('searches with the quick box and the advanced form', async () => {
    await deliver(
      t,
      'carol@sender.example',
      'ann@example.com',
      'Quarterly figures',
      'The turnover grew by a zanzibar margin.',
    );
    await page.locator('li.message', { hasText: 'Quarterly figures' }).waitFor();
    await page.getByRole('searchbox', { name: 'Search mail' }).fill('zanzibar');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('heading', { name: 'Search: zanzibar' }).waitFor();
    await page.locator('li.message', { hasText: 'Quarterly figures' }).waitFor();
    assert.equal(await page.locator('li.message').count(), 1);
    await shot('7-search');
    await page.getByRole('button', { name: 'Advanced search' }).click();
    await page
      .getByRole('form', { name: 'Advanced search' })
      .getByLabel('From', { exact: true })
      .fill('bob@example.com');
    await page.getByLabel('Has attachment').check();
    await page.getByRole('form', { name: 'Advanced search' }).getByRole('button', { name: 'Search' }).click();
    await page.locator('li.message', { hasText: 'The report' }).waitFor();
    assert.equal(await page.locator('li.message').count(), 1);
    await page.getByRole('button', { name: 'Clear search' }).click();
  });

  it('moves a message to Junk with its button, which trains the classifier', async () => {
    await deliver(t, 'promo@bulk.example', 'ann@example.com', 'WIN A PRIZE NOW', 'Claim your prize today!!!');
    await page.locator('li.message', { hasText: 'WIN A PRIZE NOW' }).click();
    await page.getByRole('button', { name: 'Junk', exact: true }).click();
    await page.locator('li.message', { hasText: 'WIN A PRIZE NOW' }).waitFor({ state: 'detached' });
    for (let i = 0; i < 40 && !t.logs.some((l) => l['msg'] === 'classifier learnt from the user'); i++)
      await new Promise((r) => setTimeout(r, 100));
    const learnt = t.logs.find((l) => l['msg'] === 'classifier learnt from the user');
    assert.equal(learnt?.['as'], 'spam');
    await page.getByRole('link', { name: 'Junk' }).click();
    await page.locator('li.message', { hasText: 'WIN A PRIZE NOW' }).waitFor();
    await page.getByRole('link', { name: 'Inbox' }).click();
  });

  it('makes a filter in the settings form that files the next message, and sets a vacation reply', async () => {
    page.once('dialog', (d) => void d.accept('Receipts'));
    await page.getByRole('button', { name: 'New folder' }).click();
    await page.getByRole('link', { name: 'Receipts' }).waitFor();
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByRole('button', { name: 'Add filter' }).click();
    const filter = page.locator('fieldset.filter').first();
    await filter.getByLabel('Value').fill('receipt');
    await filter.getByLabel('Field').selectOption('subject');
    await filter.getByLabel('Folder').fill('Receipts');
    await page.getByRole('button', { name: 'Save filters' }).click();
    await page.getByText('Saved.').first().waitFor();
    await shot('8-settings');
    await deliver(t, 'shop@store.example', 'ann@example.com', 'Your receipt #1234', 'Thank you for your order.');
    await page.getByRole('link', { name: 'Receipts' }).click();
    await page.locator('li.message', { hasText: 'Your receipt #1234' }).waitFor();

    await page.getByRole('button', { name: 'Settings' }).click();
    const vacation = page.getByRole('region', { name: 'Vacation reply' });
    await vacation.getByLabel('Answer mail automatically').check();
    await vacation.getByLabel('Subject', { exact: true }).fill('Away until Monday');
    await vacation.getByLabel('Message').fill('I read mail again on Monday.');
    await vacation.getByRole('button', { name: 'Save vacation reply' }).click();
    await vacation.getByText('Saved.').waitFor();
    const before = (await mailbox(t.server, 'bob@example.com')).length;
    await deliver(t, 'bob@example.com', 'ann@example.com', 'Are you there?', 'Ping');
    let replies: Awaited<ReturnType<typeof mailbox>> = [];
    for (let i = 0; i < 60 && replies.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      replies = (await mailbox(t.server, 'bob@example.com'))
        .slice(before)
        .filter((m) => m.text.includes('Away until Monday'));
    }
    assert.equal(replies.length, 1);
    assert.match(replies[0]!.text, /I read mail again on Monday\./);
  });

  it('fits a phone-sized screen and speaks German when asked', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page
      .getByRole('link', { name: 'Inbox' })
      .click({ force: true })
      .catch(() => undefined);
    await page.getByRole('button', { name: 'Folders' }).click();
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.locator('li.message', { hasText: 'The report' }).waitFor();
    await shot('9-phone-list');
    await page.locator('li.message', { hasText: 'The report' }).click();
    await page.getByRole('heading', { name: 'The report' }).waitFor();
    assert.equal(await page.locator('main.list-pane').isVisible(), false); // the message covers the list
    await shot('9-phone-read');
    await page.getByRole('button', { name: 'Back' }).click();
    await page.getByRole('button', { name: 'Write' }).click();
    await shot('9-phone-write');
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Language', { exact: true }).selectOption('de');
    await page.getByRole('heading', { name: 'Einstellungen' }).waitFor();
    await page.getByRole('button', { name: 'Zurück' }).isVisible();
    await shot('9-phone-settings-de');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('button', { name: 'Ordner' }).isVisible();
    await page.getByRole('link', { name: 'Posteingang' }).click();
    await page.getByRole('heading', { name: 'Posteingang' }).waitFor();
    await shot('10-inbox-de');
    await page.getByRole('button', { name: 'Einstellungen' }).click();
    await page.getByLabel('Sprache', { exact: true }).selectOption('en');
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByLabel('Theme', { exact: true }).selectOption('dark');
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.locator('li.message', { hasText: 'The report' }).click();
    await shot('11-dark-read');
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Theme', { exact: true }).selectOption('auto');
  });

  it('signs out, and the session no longer reaches JMAP', async () => {
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByLabel('Mail address').waitFor();
    const status = await page.evaluate(async () => (await fetch('/jmap/session')).status);
    assert.equal(status, 401);
    assert.deepEqual(errors, []);
  });
});
