import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger, type Logger } from '../../lib/log.js';
import { parseHeaders } from '../../mail/mime/headers.js';
import { parseMessage } from '../../mail/mime/structure.js';
import { contentSymbols, createBuiltinRules, type Blocklist } from './rules.js';
import { authSymbols } from './rules/auth.js';
import { expandIpv6, reverseName } from './rules/client.js';
import { linkDomains, symbolName } from './rules/dnsbl.js';
import { hiddenText, normalizeColor } from './rules/html.js';
import { sniff } from './rules/mime.js';
import type { FilterInput, FilterSymbol } from './types.js';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const DATED = 'Date: Wed, 02 Dec 2026 10:00:00 +0000\nMessage-ID: <m@sender.example>\n';

function input(text: string, extra: Partial<FilterInput> = {}): FilterInput {
  const data = Buffer.from(crlf(text), 'latin1');
  return {
    qid: 'Q',
    data,
    head: parseHeaders(data.subarray(0, Math.max(0, data.indexOf('\r\n\r\n')) + 2).toString('latin1')),
    scoreSpam: true,
    mailFrom: 'x@sender.example',
    client: { ip: '192.0.2.10', helo: 'mx.sender.example' },
    accounts: [{ id: 1, address: 'ann@example.com' }],
    recipients: [{ address: 'ann@example.com', account: 'ann@example.com' }],
    fromAddresses: [],
    ...extra,
  };
}
const names = (symbols: FilterSymbol[]) => symbols.map((s) => s.name).sort();
const content = (text: string, extra: Partial<FilterInput> = {}) => names(contentSymbols(input(text, extra)));

/** A resolver answering from a table; names in `fail` fail as a SERVFAIL would, `hang` never answers. */
function fakeResolver(table: Record<string, string[]>, fail: string[] = [], hang: string[] = []) {
  const asked: string[] = [];
  const resolve = (name: string, rrtype: string): Promise<unknown> => {
    asked.push(`${rrtype} ${name}`);
    if (hang.includes(name)) return new Promise(() => {});
    if (fail.includes(name)) return Promise.reject(Object.assign(new Error('servfail'), { code: 'ESERVFAIL' }));
    const answer = table[`${rrtype} ${name}`];
    return answer ? Promise.resolve(answer) : Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' }));
  };
  return { resolve, asked };
}

function recordingLog(): { log: Logger; lines: Array<{ msg: string; obj: unknown }> } {
  const lines: Array<{ msg: string; obj: unknown }> = [];
  const log = {
    ...silentLogger,
    warn: (obj: unknown, msg?: string) => lines.push({ obj, msg: msg ?? '' }),
    child: () => log,
  } as unknown as Logger;
  return { log, lines };
}

describe('sender authentication rules', () => {
  it('weighs passes slightly against spam and failures for it', () => {
    const pass = authSymbols(
      { spf: 'pass', dmarc: 'pass', dkim: [{ domain: 'sender.example', result: 'pass' }], arc: 'pass' },
      'news.sender.example',
    );
    assert.deepEqual(names(pass), ['ARC_VALID', 'DKIM_VALID', 'DKIM_VALID_AU', 'DMARC_PASS', 'SPF_PASS']);
    assert.ok(pass.every((s) => s.score < 0));
    const fail = authSymbols(
      { spf: 'fail', dmarc: 'fail', dkim: [{ domain: 'sender.example', result: 'fail' }], arc: 'fail' },
      'sender.example',
    );
    assert.deepEqual(names(fail), ['ARC_INVALID', 'DKIM_INVALID', 'DMARC_FAIL', 'SPF_FAIL']);
    assert.ok(fail.every((s) => s.score > 0));
    assert.deepEqual(names(authSymbols({ spf: 'softfail', dmarc: 'none', dkim: [], arc: 'none' }, undefined)), [
      'DMARC_MISSING',
      'SPF_SOFTFAIL',
    ]);
  });

  it('gives DKIM_VALID_AU only for the From organization, and ignores temporary errors and odd results', () => {
    const other = authSymbols(
      { spf: 'WEIRD', dmarc: '', dkim: [{ domain: 'co.uk', result: 'pass' }], arc: '' },
      'victim.co.uk',
    );
    assert.deepEqual(names(other), ['DKIM_VALID'], 'a public suffix is no organization');
    assert.deepEqual(
      authSymbols({ spf: '', dmarc: '', dkim: [{ domain: '', result: 'temperror' }], arc: '' }, 'a.b'),
      [],
    );
    assert.deepEqual(authSymbols(undefined, 'x'), []);
  });
});

describe('header rules', () => {
  it('finds an address in the From display name that is not the sender (FROM_NAME_SPOOF)', () => {
    const spoof = `From: "service@paypal.com" <x@evil.example>\nSubject: hi\n${DATED}\nhello\n`;
    assert.ok(content(spoof).includes('FROM_NAME_SPOOF'));
    const encoded = `From: =?utf-8?B?${Buffer.from('Support <help@bank.example>').toString('base64')}?= <x@evil.example>\n${DATED}\nx\n`;
    assert.ok(content(encoded).includes('FROM_NAME_SPOOF'), 'encoded words are decoded first');
    const local = `From: "ann@example.com" <x@evil.example>\n${DATED}\nx\n`;
    assert.ok(content(local).includes('FROM_NAME_SPOOF_LOCAL'), "the recipient's own domain weighs more");
    for (const fine of [
      `From: "Ann Smith" <ann@sender.example>\n`,
      `From: "ann@sender.example" <ann@sender.example>\n`,
      `From: "help@mail.sender.example" <x@sender.example>\n`,
      `From: "user@localhost" <x@sender.example>\n`,
      `From: "${'a@'.repeat(5000)}" <x@sender.example>\n`,
      `From: undisclosed:;\n`,
    ])
      assert.ok(!content(`${fine}${DATED}\nx\n`).some((n) => n.startsWith('FROM_NAME')), fine.slice(0, 60));
  });

  it('notices a Subject in capitals, but not a short one or one with lower case', () => {
    assert.ok(
      content(`From: a@sender.example\nSubject: FREE MONEY FOR YOU NOW\n${DATED}\nx\n`).includes('SUBJ_ALL_CAPS'),
    );
    assert.ok(!content(`From: a@sender.example\nSubject: RE: OK\n${DATED}\nx\n`).includes('SUBJ_ALL_CAPS'));
    assert.ok(!content(`From: a@sender.example\nSubject: FREE money\n${DATED}\nx\n`).includes('SUBJ_ALL_CAPS'));
  });

  it("notices a Subject ending in a bulk mailer's padding or random tag, not a word, a code or a ticket number", () => {
    const tail = (subject: string) =>
      content(`From: a@sender.example\nSubject: ${subject}\n${DATED}\nx\n`).includes('SUBJ_RANDOM_TAIL');
    for (const spam of [
      'Get Out of Debt Fast                          12244',
      'Your order#\t\t\t\t\t\t5056',
      'Are Your Mortgage Rates The Best They Can Be........ 0922LkVT8-113rFxd3342c-21',
      'good mtv wmE239PgyETfr9P4nvyEWKJCEkWH',
    ])
      assert.ok(tail(spam), spam);
    for (const ham of [
      'RE: [Spambayes] New web training interface for pop3proxy',
      'Your login code is X7kP2mQ9',
      'Invoice 2026-INV-10',
      'Re: CVE-2002-0001 in OpenSSL',
      'Meeting at 10:30',
      `${'a '.repeat(400)}end`,
    ])
      assert.ok(!tail(ham), ham);
  });
});

describe('body phrases', () => {
  it('scores each kind of sales talk once, in the Subject and in decoded text and HTML parts', () => {
    const pitch =
      'Dear Friend, earn extra income working from home! 100% guaranteed!!! ' +
      'To be removed from our list reply with REMOVE in the subject. ' +
      'Make money: $500 per week. '.repeat(3);
    const found = content(`From: a@sender.example\nSubject: hi\n${DATED}\n${pitch}\n`);
    for (const name of ['DEAR_FRIEND', 'MAKE_MONEY', 'GUARANTEED', 'EXCLAIMS', 'REMOVE_ME', 'INCOME_PER_PERIOD'])
      assert.ok(found.includes(name), name);
    assert.equal(found.filter((n) => n === 'MAKE_MONEY').length, 1, 'a kind said three times scores once');
    const html = Buffer.from('<p>Lose <b>20 pounds</b> in a month &nbsp; with our diet&nbsp;pills</p>').toString(
      'base64',
    );
    const encoded = `From: a@sender.example\nSubject: =?utf-8?Q?Next_of_kin?=\n${DATED}MIME-Version: 1.0\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n${html}\n`;
    const decoded = content(encoded);
    assert.ok(decoded.includes('DIET_OR_DRUGS'), 'tags dropped and base64 decoded');
    assert.ok(decoded.includes('ADVANCE_FEE'), 'the decoded Subject is read');
  });

  it('says nothing about plain personal mail, and counts capitals only in a long text', () => {
    const note = 'Hi Ann, the meeting moved to Tuesday at ten. Could you bring the slides? Thanks, Bob';
    assert.deepEqual(
      content(`From: a@sender.example\nSubject: Tuesday\n${DATED}\n${note}\n`).filter((n) => n !== 'MIME_HTML_ONLY'),
      [],
    );
    const loud = 'THIS IS THE OFFER OF A LIFETIME AND YOU WILL NOT SEE IT AGAIN. '.repeat(5);
    assert.ok(content(`From: a@sender.example\n${DATED}\n${loud}\n`).includes('SHOUTING'));
    assert.ok(!content(`From: a@sender.example\n${DATED}\nOK THANKS\n`).includes('SHOUTING'), 'too short to tell');
  });

  // A pattern that backtracks on these would not finish before the test's timeout.
  it('reads a hostile text: unclosed tags, endless prices and exclamations', { timeout: 20_000 }, () => {
    const hostile = `${'!'.repeat(20_000)}${'$1 '.repeat(10_000)}${'<'.repeat(200_000)}`;
    const found = content(`From: a@sender.example\n${DATED}\n${hostile}\n`);
    assert.ok(found.includes('EXCLAIMS') && found.includes('MANY_PRICES'));
  });
});

const multipart = (parts: string[]) =>
  `From: a@sender.example\n${DATED}MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n${parts
    .map((p) => `--b\n${p}\n`)
    .join('')}--b--\n`;
const attachment = (type: string, name: string, bytes: Buffer) =>
  `Content-Type: ${type}; name="${name}"\nContent-Disposition: attachment; filename="${name}"\nContent-Transfer-Encoding: base64\n\n${bytes.toString('base64')}`;
const PE = Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1'), Buffer.alloc(64)]);

describe('MIME rules', () => {
  it('flags executable and double-extension attachments, whatever their spelling', () => {
    const text = 'Content-Type: text/plain\n\nsee attached';
    assert.ok(
      content(multipart([text, attachment('application/octet-stream', 'setup.exe', PE)])).includes(
        'MIME_BAD_EXTENSION',
      ),
    );
    for (const name of ['invoice.pdf.exe', 'INVOICE.PDF.SCR', 'scan.jpg.js. . ', 'C:\\\\x\\\\doc.docx.hta'])
      assert.ok(
        content(multipart([text, attachment('application/octet-stream', name, Buffer.from('x'))])).includes(
          'MIME_DOUBLE_BAD_EXTENSION',
        ),
        name,
      );
    const rfc2231 = `Content-Type: application/octet-stream\nContent-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf.exe\n\nx`;
    assert.ok(content(multipart([text, rfc2231])).includes('MIME_DOUBLE_BAD_EXTENSION'));
    const harmless = content(
      multipart([text, attachment('application/pdf', 'report.exe.pdf', Buffer.from('%PDF-1.4\n'))]),
    );
    assert.ok(!harmless.some((n) => n.startsWith('MIME_')), harmless.join());
  });

  it('flags attachments whose bytes contradict their declared type', () => {
    const text = 'Content-Type: text/plain\n\nx';
    assert.ok(content(multipart([text, attachment('application/pdf', 'a.pdf', PE)])).includes('MIME_BAD_ATTACHMENT'));
    const zip = Buffer.from('PK\x03\x04\x14\x00rest', 'latin1');
    assert.ok(content(multipart([text, attachment('image/png', 'a.png', zip)])).includes('MIME_BAD_ATTACHMENT'));
    const png = Buffer.from('89504e470d0a1a0a0000', 'hex');
    assert.ok(
      !content(multipart([text, attachment('image/jpeg', 'a.jpg', png)])).includes('MIME_BAD_ATTACHMENT'),
      'an image is an image',
    );
    assert.ok(!content(multipart([text, attachment('application/zip', 'a.zip', zip)])).includes('MIME_BAD_ATTACHMENT'));
    assert.ok(!content(`From: a@sender.example\n${DATED}\nMZ is where it starts\n`).includes('MIME_BAD_ATTACHMENT'));
    assert.equal(sniff(Buffer.alloc(0)), undefined);
    assert.equal(sniff(Buffer.from('%PDF-1.7')), 'pdf');
  });

  it('notices HTML without a plain-text part, and text hidden in it', () => {
    const html = (body: string) =>
      `From: a@sender.example\n${DATED}Content-Type: text/html; charset=utf-8\n\n<html><body>${body}</body></html>\n`;
    assert.deepEqual(content(html('<p>Hello</p>')), ['MIME_HTML_ONLY']);
    const words = 'lorem ipsum dolor sit amet '.repeat(6);
    assert.ok(content(html(`<div style="display: none !important">${words}</div>`)).includes('HTML_HIDDEN_TEXT'));
    assert.ok(content(html(`<span style="font-size:0px">${words}</span>`)).includes('HTML_HIDDEN_TEXT'));
    assert.ok(
      content(html(`<font color="#FFF"><p style="background-color: white">${words}</p></font>`)).includes(
        'HTML_SAME_COLOR_TEXT',
      ),
    );
    assert.ok(
      !content(
        html(
          `<table bgcolor="#ffffff"><tr><td style="background-image:url(x.png)"><font color=white>${words}</font></td></tr></table>`,
        ),
      ).includes('HTML_SAME_COLOR_TEXT'),
      'white text on a picture',
    );
    assert.ok(
      !content(html(`<div style="display:none">Your order has shipped</div><p>${words}</p>`)).includes(
        'HTML_HIDDEN_TEXT',
      ),
      'a preheader',
    );
    const alternative = `From: a@sender.example\n${DATED}Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: text/html\n\n<p>hi</p>\n--b--\n`;
    assert.deepEqual(content(alternative), []);
  });

  it('scans hostile HTML in linear time and bounded depth', () => {
    for (const hostile of [
      '<div style="display:none">'.repeat(100_000),
      '<'.repeat(200_000),
      '<script>'.repeat(50_000),
      `<p style="${'color:'.repeat(50_000)}">x`,
      '<font color=white bgcolor=white>'.repeat(1000) + 'x'.repeat(100),
    ]) {
      const found = hiddenText(hostile);
      assert.ok(found.invisible >= 0 && found.sameColor >= 0);
    }
    assert.equal(normalizeColor('rgb(255, 255, 255)'), '#ffffff');
    assert.equal(normalizeColor('#AbC'), '#aabbcc');
    assert.equal(normalizeColor('url(x)'), undefined);
  });
});

describe('client and blocklist rules', () => {
  const deps = (
    table: Record<string, string[]>,
    blocklists: Blocklist[] = [],
    fail: string[] = [],
    hang: string[] = [],
  ) => {
    const r = fakeResolver(table, fail, hang);
    const { log, lines } = recordingLog();
    const rules = createBuiltinRules({
      resolve: r.resolve,
      hostname: 'mail.example.com',
      isHosted: (name) => Promise.resolve(name === 'example.com'),
      blocklists,
      log,
      lookupTimeoutMs: 200,
    });
    return { rules, asked: r.asked, lines };
  };
  const message = `From: x@sender.example\n${DATED}\nhello\n`;
  const good = {
    'PTR 10.2.0.192.in-addr.arpa': ['mx.sender.example'],
    'A mx.sender.example': ['192.0.2.10'],
  };

  it('passes a client whose PTR confirms and whose HELO is a resolvable name', async () => {
    const { rules } = deps(good);
    assert.deepEqual(names(await rules.check(input(message))), []);
  });

  it('finds RDNS_NONE, FCRDNS_FAIL and the HELO faults', async () => {
    const none = await deps({ 'A mx.sender.example': ['192.0.2.10'] }).rules.check(input(message));
    assert.deepEqual(names(none), ['RDNS_NONE']);
    const mismatch = await deps({ ...good, 'A mx.sender.example': ['192.0.2.99'] }).rules.check(input(message));
    assert.deepEqual(names(mismatch), ['FCRDNS_FAIL']);
    const helo = async (name: string) =>
      names(await deps(good).rules.check(input(message, { client: { ip: '192.0.2.10', helo: name } })));
    assert.deepEqual(await helo('[192.0.2.10]'), ['HELO_BARE_IP']);
    assert.deepEqual(await helo('192.0.2.10'), ['HELO_BARE_IP']);
    assert.deepEqual(await helo('[IPv6:2001:db8::1]'), ['HELO_BARE_IP']);
    assert.deepEqual(await helo('localhost'), ['HELO_NOT_FQDN']);
    assert.deepEqual(await helo('bad..name'), ['HELO_NOT_FQDN']);
    assert.deepEqual(await helo('x'.repeat(5000)), ['HELO_NOT_FQDN']);
    assert.deepEqual(await helo('MAIL.example.com.'), ['HELO_FORGED_US']);
    assert.deepEqual(await helo('example.com'), ['HELO_FORGED_US']);
    assert.deepEqual(await helo('nowhere.sender.example'), ['HELO_NORES']);
  });

  it('skips the client checks for loopback clients, and adds nothing when DNS fails or hangs', async () => {
    const local = await deps({}).rules.check(input(message, { client: { ip: '127.0.0.1', helo: 'localhost' } }));
    assert.deepEqual(names(local), []);
    const mapped = await deps({}).rules.check(input(message, { client: { ip: '::ffff:127.0.0.1', helo: 'x' } }));
    assert.deepEqual(names(mapped), []);
    const broken = deps({}, [], ['10.2.0.192.in-addr.arpa'], ['mx.sender.example']);
    assert.deepEqual(names(await broken.rules.check(input(message))), []);
    assert.ok(broken.lines.some((l) => l.msg === 'DNS lookup for a spam rule failed'));
  });

  it('asks DNSBL, RHSBL and URIBL zones; a refused query is no hit but a warning', async () => {
    const lists: Blocklist[] = [
      { zone: 'bl.test', kind: 'ip', score: 3 },
      { zone: 'refusing.test', kind: 'ip', score: 3 },
      { zone: 'dbl.test', kind: 'domain', score: 2.5 },
      { zone: 'uri.test', kind: 'uri', score: 4 },
    ];
    const body = `From: Bad <x@spammer.example>\n${DATED}Content-Type: text/html\n\n<a href="https://www.listed-link.example/x?y">go</a> http://fine.example/ https://10.0.0.1/\n`;
    const { rules, asked, lines } = deps(
      {
        ...good,
        'A 10.2.0.192.bl.test': ['127.0.0.2'],
        'A 10.2.0.192.refusing.test': ['127.255.255.254'],
        'A spammer.example.dbl.test': ['127.0.1.2'],
        'A listed-link.example.uri.test': ['127.0.0.2'],
        'A fine.example.uri.test': ['192.0.2.1'],
      },
      lists,
    );
    const found = await rules.check(input(body));
    assert.deepEqual(names(found), ['MIME_HTML_ONLY', 'RBL_BL_TEST', 'RHSBL_DBL_TEST', 'URIBL_URI_TEST']);
    assert.equal(found.find((s) => s.name === 'URIBL_URI_TEST')!.score, 4);
    assert.match(found.find((s) => s.name === 'URIBL_URI_TEST')!.why, /listed-link\.example is listed in uri\.test/);
    assert.ok(
      lines.some((l) => /refused the query/.test(l.msg)),
      'the refusal is logged',
    );
    assert.ok(asked.includes('A sender.example.dbl.test'), 'the envelope sender domain is asked too');
    assert.ok(!asked.some((a) => a.includes('10.0.0.1')), 'an address in a link is not a URIBL domain');
  });

  it('caps URIBL lookups and reads hostile link text safely', () => {
    const many = Array.from({ length: 100 }, (_, i) => `http://d${i}.example/`).join(' ');
    assert.equal(linkDomains(many, 20).length, 20);
    assert.deepEqual(linkDomains('http://'.repeat(100_000), 20), []);
    assert.ok(linkDomains(`https://${'a.'.repeat(200)}example`, 20).length <= 1);
    assert.equal(symbolName('RBL', 'zen.spamhaus.org'), 'RBL_ZEN_SPAMHAUS_ORG');
    assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
    assert.equal(expandIpv6('2001:db8::1'), '2001:0db8:0000:0000:0000:0000:0000:0001');
    assert.match(reverseName('2001:db8::1'), /^1\.0\.0\.0\.(0\.){20}8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa$/);
  });

  it('never throws on hostile messages', async () => {
    const { rules } = deps(good);
    for (const hostile of [
      '',
      '\r\n\r\n',
      'From: <>\n\n',
      `Content-Type: multipart/mixed; boundary=x\n\n${'--x\nContent-Type: multipart/mixed; boundary=x\n\n'.repeat(3000)}`,
      `From: ${'"'.repeat(10_000)}\nSubject: ${'=?utf-8?B?'.repeat(5000)}\n\n`,
      `Content-Type: application/pdf; name="${'.exe'.repeat(10_000)}"\nContent-Transfer-Encoding: base64\n\n${'!'.repeat(10_000)}`,
    ]) {
      const found = await rules.check(input(hostile));
      assert.ok(Array.isArray(found));
      parseMessage(Buffer.from(hostile));
    }
  });
});
