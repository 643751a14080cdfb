/**
 * Hostile mail HTML in the webmail, in Debian's headless Chromium: script tags, event handlers,
 * javascript: and data: URLs, CSS expressions and url()s, @import and @font-face, SVG and MathML
 * tricks, forms, meta refresh, frames, objects, <base>, remote images and fonts, srcset and
 * background attributes, in mixed case and entity-encoded spellings, in base64 and quoted-printable
 * parts. Every address they name is a canary HTTPS server on 127.0.0.1; the test proves that no
 * script runs (no dialog, no console message, nothing set on the page) and that no request leaves
 * the page: the canary sees nothing, until the reader allows remote images, when it sees exactly the
 * one ordinary image (never the tracking pixel).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser } from './helpers/browser.js';
import { makeCert } from './helpers/certs.js';
import { peer } from './helpers/peers.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { swaksReply } from './helpers/swaks.js';
import { tempDir } from './helpers/tmp.js';

const skip = peer('chromium', 'chromium') || peer('swaks', 'swaks') || undefined;

/** The hostile documents: `C` stands for the canary's origin. */
const CORPUS: Record<string, string> = {
  script: `<p>hi</p><script>alert(1);fetch('C/script');top.pwned=1</script>`,
  'mixed-case script': `<ScRiPt>parent.pwned=1;fetch('C/mixed')</sCrIpT><p>x</p>`,
  'event handlers': `<img src=x onerror="fetch('C/onerror');top.pwned=1"><body onload="fetch('C/onload')"><details open ontoggle="fetch('C/toggle')"><summary>s</summary></details><div onmouseover="fetch('C/over')">hover</div>`,
  'javascript: links': `<a id=js href="javascript:fetch('C/js-link')">one</a> <a href="&#x6A;avascript:fetch('C/encoded')">two</a> <a href="java&#x09;script:alert(1)">three</a> <IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)>`,
  'data: URLs': `<a href="data:text/html,<script>alert(1)</script>">data</a><iframe src="data:text/html,<script>parent.pwned=1</script>"></iframe><object data="data:text/html,<script>alert(1)</script>"></object>`,
  'CSS url, import, expression': `<style>@import url(C/import.css); body { background: url('C/style-bg.png') } p { width: expression(alert(1)) }</style><div style="background-image:url(C/inline-bg.png);behavior:url(C/x.htc)">styled</div><p>text</p>`,
  'remote font': `<style>@font-face { font-family: evil; src: url(C/font.woff2) } body { font-family: evil }</style><p>font</p>`,
  svg: `<svg onload="fetch('C/svg-onload')"><script>parent.pwned=1</script><image href="C/svg-image.png"/><use href="C/sprite.svg#a"/><a href="javascript:alert(1)"><text>t</text></a></svg><p>svg</p>`,
  mathml: `<math><mtext><table><mglyph><style><img src=x onerror="fetch('C/mathml')"></style></mglyph></table></mtext></math><math href="javascript:alert(1)"><mi>x</mi></math>`,
  'forms and meta refresh': `<meta http-equiv="refresh" content="0;url=C/refresh"><form action="C/form" method="post"><input name=a value=b autofocus onfocus="fetch('C/focus')"><button formaction="C/formaction">go</button></form>`,
  'frames, objects, base, link': `<base href="C/"><img src="relative.png"><iframe src="C/iframe"></iframe><frameset><frame src="C/frame"></frameset><object data="C/object"></object><embed src="C/embed"><link rel=stylesheet href="C/link.css"><link rel=prefetch href="C/prefetch"><video poster="C/poster.png" src="C/video.mp4"></video><audio src="C/audio.mp3" autoplay></audio>`,
  'srcset and background attributes': `<img srcset="C/srcset.png 2x"><table background="C/table-bg.png"><tr><td background="C/td-bg.png">cell</td></tr></table><input type=image src="C/input.png">`,
  'template and noscript mXSS': `<noscript><p title="</noscript><img src=x onerror=fetch('C/noscript')>"></noscript><template><img src=x onerror="fetch('C/template')"></template><xmp><img src=x onerror=fetch('C/xmp')></xmp>`,
  'remote images': `<p>Newsletter</p><img src="C/picture.png" width="300" height="200" alt="picture"><img src="C/pixel.gif" width="1" height="1"><img src="C/hidden.gif" style="display:none">`,
};

describe('webmail against hostile HTML', { skip }, () => {
  let t: TestServer;
  let canary: Server;
  let canaryOrigin: string;
  const hits: string[] = [];
  let browser: BrowserContext;
  let page: Page;
  let errors: string[];
  const shots = process.env.POSTERN_SCREENSHOTS ?? path.join(tempDir(), 'screenshots');

  before(async () => {
    mkdirSync(shots, { recursive: true });
    const cert = await makeCert({ commonName: 'tracker.example' });
    canary = createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'image/gif' });
      res.end(Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'));
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    const port = (canary.address() as { port: number }).port;
    canaryOrigin = `https://tracker.example:${port}`;
    t = await startTestServer({ listeners: ['https', 'smtp'] });
    await t.server.directory.addDomain('example.com');
    await t.server.directory.addAccount('ann@example.com', 'ann-secret-1');
    ({ browser, page, errors } = await openBrowser(['webmail.example.com', 'tracker.example']));
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await new Promise((resolve) => canary?.close(resolve));
  });

  it('runs no script and loads nothing from elsewhere for any of them; remote images only when allowed', async () => {
    const dir = tempDir();
    const names = Object.keys(CORPUS);
    for (const [i, name] of names.entries()) {
      const html = CORPUS[name]!.replaceAll('C/', `${canaryOrigin}/`);
      // Alternately base64 and quoted-printable, as senders encode HTML.
      const encoding = i % 2 ? 'base64' : 'quoted-printable';
      const body =
        encoding === 'base64'
          ? Buffer.from(html).toString('base64').replace(/.{76}/g, '$&\r\n')
          : html.replace(/=/g, '=3D').replace(/.{70}[^=]{0,2}/g, '$&=\r\n');
      const file = path.join(dir, `${i}.eml`);
      writeFileSync(
        file,
        `From: attacker@evil.example\r\nTo: ann@example.com\r\nSubject: hostile ${name}\r\nMessage-ID: <h${i}@evil.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n${body}\r\n`,
      );
      const reply = await swaksReply(t.port('smtp'), [
        '--from',
        'attacker@evil.example',
        '--to',
        'ann@example.com',
        '--data',
        file,
      ]);
      assert.match(reply, /^250 /);
    }

    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const logged: string[] = [];
    page.on('console', (m) => logged.push(m.text()));
    const elsewhere: string[] = [];
    page.on('request', (r) => {
      if (!/^(https:\/\/webmail\.example\.com:\d+\/|data:|blob:|about:)/.test(r.url())) elsewhere.push(r.url());
    });

    await page.goto(`https://webmail.example.com:${t.port('https')}/`);
    await page.getByLabel('Mail address').fill('ann@example.com');
    await page.getByLabel('Password').fill('ann-secret-1');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Inbox' }).waitFor();
    for (const name of names) {
      await page.locator('li.message', { hasText: `hostile ${name}` }).click();
      await page.getByRole('heading', { name: `hostile ${name}` }).waitFor();
      const frame = page.frameLocator('iframe.body-frame');
      await frame.locator('body').waitFor();
      // Whatever is left to click is clicked (the javascript: links were made harmless or dropped).
      const links = frame.locator('a');
      for (let k = 0; k < (await links.count()); k++)
        await links
          .nth(k)
          .click({ timeout: 2000 })
          .catch(() => undefined);
      await page.waitForTimeout(300);
      if (name === 'remote images')
        await page.screenshot({ path: path.join(shots, 'mail-hostile-images-blocked.png') });
    }
    await page.waitForTimeout(1000);
    assert.deepEqual(hits, [], 'the canary was reached');
    assert.deepEqual(elsewhere, [], 'requests left the page');
    assert.deepEqual(dialogs, []);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    assert.deepEqual(
      logged.filter((c) => !/Content Security Policy|Failed to load resource/.test(c)),
      [],
      'a script wrote to the console',
    );

    // The reader allows the newsletter's images: the picture loads, the tracking pixels never do.
    await page.locator('li.message', { hasText: 'hostile remote images' }).click();
    await page.getByRole('button', { name: 'Show images' }).click();
    for (let i = 0; i < 50 && !(hits as string[]).includes('/picture.png'); i++) await page.waitForTimeout(100);
    await page.screenshot({ path: path.join(shots, 'mail-hostile-images-allowed.png') });
    assert.deepEqual(hits, ['/picture.png']);
    assert.deepEqual(
      errors.filter((e) => !/Content Security Policy/.test(e)),
      [],
    );
  });
});
