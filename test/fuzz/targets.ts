/**
 * Fuzz targets: every parser that reads bytes from the network or from a message, fed inputs made by
 * fast-check. Each target takes one Buffer; its generator mixes grammar-aware inputs (commands and
 * records that look valid, then mutated) with raw bytes. A target fails when the parser throws
 * anything but its own syntax error, returns something malformed, or breaks a property (the same
 * result whatever the chunking). test/fuzz.test.ts runs each briefly with a fixed seed and replays
 * test/fuzz/corpus/<target>/*; scripts/fuzz.ts runs one for as long as asked.
 */
import fc from 'fast-check';
import { parseClientHello } from '../../src/lib/tls-hello.js';
import { parseDkimKeyRecord } from '../../src/mail/dkim/record.js';
import { parseDmarc } from '../../src/mail/dmarc/record.js';
import { htmlToText, searchText } from '../../src/mail/mime/text.js';
import { parseMessage } from '../../src/mail/mime/structure.js';
import { compileScript, SieveError } from '../../src/mail/sieve/compile.js';
import { runScript, SieveRuntimeError, type SieveMessage } from '../../src/mail/sieve/interpret.js';
import { parseSpf } from '../../src/mail/spf/record.js';
import { parseFetchItems } from '../../src/protocols/imap/fetch.js';
import { compilePattern } from '../../src/protocols/imap/pattern.js';
import { parseSearch } from '../../src/protocols/imap/search.js';
import { parseSequenceSet } from '../../src/protocols/imap/sequence.js';
import { FrameReader, ImapSyntaxError, tokenize, type WireEvent } from '../../src/protocols/imap/wire.js';
import { CommandReader, type ReaderEvent } from '../../src/protocols/managesieve/parse.js';
import { DotStuffer } from '../../src/protocols/shared/dot-stuff.js';
import { LineReader } from '../../src/protocols/shared/lines.js';
import { decodeSaslPlain } from '../../src/protocols/shared/sasl.js';
import { contentSymbols } from '../../src/services/filters/rules.js';
import { linkDomains } from '../../src/services/filters/rules/dnsbl.js';
import { hiddenText } from '../../src/services/filters/rules/html.js';
import { stripOurResults } from '../../src/services/sender-auth/index.js';

export interface FuzzTarget {
  /** What it feeds and to what. */
  description: string;
  input: fc.Arbitrary<Buffer>;
  run(input: Buffer): void;
}

const text = (s: string) => Buffer.from(s, 'latin1');

/** A grammar-made input, sometimes mutated: bytes flipped, cut, repeated or spliced with noise. */
function mutated(base: fc.Arbitrary<string>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 4, arbitrary: base.map(text) },
    {
      weight: 2,
      arbitrary: fc.tuple(base, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([s, at, noise]) => {
        const b = text(s);
        const i = b.length ? at % b.length : 0;
        return Buffer.concat([b.subarray(0, i), Buffer.from(noise), b.subarray(i)]);
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(base, fc.nat()).map(([s, at]) => text(s).subarray(0, s.length ? at % (s.length + 1) : 0)),
    },
    { weight: 1, arbitrary: fc.tuple(base, fc.integer({ min: 2, max: 50 })).map(([s, n]) => text(s.repeat(n))) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)) },
  );
}

/** Cut points for feeding a buffer in pieces, so that framing across chunk ends is exercised. */
function chunks(buf: Buffer, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let x = seed >>> 0 || 1;
  for (let i = 0; i < buf.length;) {
    x = (x * 1103515245 + 12345) >>> 0;
    const n = 1 + (x % 17);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

function expectOnly(err: unknown, ...allowed: Array<new (...args: never[]) => Error>): void {
  if (allowed.some((c) => err instanceof c)) return;
  throw err;
}

// ---- IMAP -------------------------------------------------------------------------------------

const atomChars = fc.stringMatching(/^[A-Za-z0-9.\\*%$+-]{1,12}$/);
const imapString = fc.oneof(
  atomChars,
  fc.string({ maxLength: 20 }).map((s) => `"${s.replace(/["\\]/g, '\\$&')}"`),
  fc.string({ maxLength: 30 }).map((s) => `{${Buffer.byteLength(s)}+}\r\n${s}`),
  fc.constant('NIL'),
);
const seqSet = fc.oneof(
  fc.constantFrom('1', '*', '1:*', '2:4,7', '*:1', '$', '0', '4294967296', '1,,2'),
  fc
    .array(fc.tuple(fc.nat(50), fc.nat(50)), { minLength: 1, maxLength: 8 })
    .map((r) => r.map(([a, b]) => `${a || '*'}:${b || '*'}`).join(',')),
);
const fetchAtt = fc.constantFrom(
  'FLAGS',
  'UID',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'RFC822.SIZE',
  'INTERNALDATE',
  'BODY[]',
  'BODY.PEEK[HEADER]',
  'BODY[1.2.MIME]',
  'BODY[TEXT]<0.10>',
  'BINARY[1]',
  'BINARY.SIZE[2]',
  'BODY.PEEK[HEADER.FIELDS (From Subject)]',
  'BODY[HEADER.FIELDS.NOT ()]',
  'BODY[0]',
  'BODY[1.]',
  'BINARY[1.MIME]',
  'BODY[]<5.0>',
  'ALL',
  'FAST',
  'FULL',
  'MODSEQ',
);
const searchKey: fc.Arbitrary<string> = fc.letrec((tie) => ({
  key: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('ALL', 'SEEN', 'UNSEEN', 'NEW', 'OLD', 'RECENT', 'DELETED', 'DRAFT', 'FLAGGED', 'ANSWERED'),
    fc
      .tuple(fc.constantFrom('SUBJECT', 'FROM', 'TO', 'CC', 'BCC', 'BODY', 'TEXT', 'KEYWORD', 'UNKEYWORD'), imapString)
      .map(([k, v]) => `${k} ${v}`),
    fc
      .tuple(
        fc.constantFrom('BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE'),
        fc.constantFrom('1-Jan-2026', '31-Dec-1999', '32-Foo-2026', 'x'),
      )
      .map(([k, v]) => `${k} ${v}`),
    fc
      .tuple(fc.constantFrom('LARGER', 'SMALLER', 'MODSEQ'), fc.constantFrom('0', '100', '99999999999999999999', '-1'))
      .map(([k, v]) => `${k} ${v}`),
    seqSet.map((s) => `UID ${s}`),
    seqSet,
    fc.tuple(imapString, imapString).map(([f, v]) => `HEADER ${f} ${v}`),
    tie('key').map((k) => `NOT ${k}`),
    fc.tuple(tie('key'), tie('key')).map(([a, b]) => `OR ${a} ${b}`),
    fc.array(tie('key'), { minLength: 1, maxLength: 3 }).map((ks) => `(${ks.join(' ')})`),
  ),
})).key;
const imapCommand = fc.oneof(
  fc
    .tuple(
      seqSet,
      fc.oneof(
        fetchAtt,
        fc.array(fetchAtt, { maxLength: 6 }).map((a) => `(${a.join(' ')})`),
      ),
    )
    .map(([s, a]) => `a1 FETCH ${s} ${a}`),
  fc
    .tuple(
      fc.constantFrom('', 'RETURN (MIN MAX COUNT ALL) ', 'CHARSET UTF-8 ', 'RETURN () '),
      fc.array(searchKey, { minLength: 1, maxLength: 4 }),
    )
    .map(([p, ks]) => `a2 UID SEARCH ${p}${ks.join(' ')}`),
  fc
    .tuple(
      seqSet,
      fc.constantFrom('+FLAGS', '-FLAGS.SILENT', 'FLAGS', 'XFLAGS'),
      fc.array(fc.constantFrom('\\Seen', '\\Deleted', '$Junk', 'kw', '\\Recent', '(', '"q"'), { maxLength: 4 }),
    )
    .map(([s, a, f]) => `a3 STORE ${s} ${a} (${f.join(' ')})`),
  fc
    .tuple(
      fc.oneof(fc.constant('""'), imapString),
      fc.oneof(imapString, fc.constantFrom('*', '%', '"*a*a*a*b"', '(INBOX "Sent*")')),
    )
    .map(([r, p]) => `a4 LIST ${r} ${p}`),
  fc.tuple(imapString, imapString).map(([u, p]) => `a5 LOGIN ${u} ${p}`),
  fc
    .tuple(imapString, fc.constantFrom('(\\Seen)', '()', ''), fc.string({ maxLength: 40 }))
    .map(([m, f, body]) => `a6 APPEND ${m} ${f} {${Buffer.byteLength(body)}+}\r\n${body}`),
  fc.constantFrom(
    'a7 IDLE',
    'DONE',
    'a8 STARTTLS',
    'a9 AUTHENTICATE PLAIN =',
    'a10 NOOP',
    'a11 CAPABILITY',
    '* BAD',
    '(',
    '',
  ),
);

function imapFrames(
  buf: Buffer,
  limits = { maxLineBytes: 1024, maxLiteralBytes: 256, maxCommandBytes: 2048 },
): WireEvent[] {
  const reader = new FrameReader(limits);
  const events: WireEvent[] = [];
  for (const c of chunks(buf, buf.length)) {
    reader.push(c);
    for (let ev = reader.next(); ev; ev = reader.next()) events.push(ev);
  }
  return events;
}

/** An IMAP command as the session sees it, through the parser its command uses. */
function parseImapFrame(segments: Array<string | Buffer>): void {
  const { tokens } = tokenize(segments);
  const [first, ...rest] = tokens;
  if (!first || first.type !== 'atom') return;
  let name = first.value.toUpperCase();
  let args = rest;
  if (name === 'UID' && rest[0]?.type === 'atom') [name, args] = [rest[0].value.toUpperCase(), rest.slice(1)];
  const arg = (i: number) =>
    args[i]?.type === 'atom'
      ? (args[i] as { value: string }).value
      : args[i]?.type === 'string'
        ? (args[i] as { value: Buffer }).value.toString()
        : '';
  switch (name) {
    case 'FETCH':
      parseSequenceSet(arg(0));
      parseFetchItems(args[1]);
      break;
    case 'STORE':
    case 'COPY':
    case 'MOVE':
      parseSequenceSet(arg(0));
      break;
    case 'SEARCH':
      parseSearch(args);
      break;
    case 'LIST':
      compilePattern(arg(0) + arg(1), '/', false)('INBOX/a/b');
      break;
  }
}

// ---- targets ----------------------------------------------------------------------------------

export const TARGETS: Record<string, FuzzTarget> = {
  'imap-wire': {
    description: 'IMAP framing (lines, literals, limits) in random chunkings, then tokenizing each frame',
    input: mutated(
      fc.array(imapCommand, { minLength: 1, maxLength: 6 }).map((cs) => cs.map((c) => `${c}\r\n`).join('')),
    ),
    run(buf) {
      const events = imapFrames(buf);
      // The same bytes in one piece frame the same way.
      const whole = new FrameReader({ maxLineBytes: 1024, maxLiteralBytes: 256, maxCommandBytes: 2048 });
      whole.push(buf);
      const once: WireEvent[] = [];
      for (let ev = whole.next(); ev; ev = whole.next()) once.push(ev);
      if (JSON.stringify(once) !== JSON.stringify(events)) throw new Error('framing depends on chunking');
      for (const ev of events) {
        if (ev.kind !== 'frame') continue;
        try {
          tokenize(ev.segments);
        } catch (err) {
          expectOnly(err, ImapSyntaxError);
        }
      }
    },
  },
  'imap-commands': {
    description: 'IMAP command parsers (sequence sets, FETCH items, SEARCH keys, LIST patterns) on framed commands',
    input: mutated(imapCommand.map((c) => `${c}\r\n`)),
    run(buf) {
      for (const ev of imapFrames(buf, { maxLineBytes: 65536, maxLiteralBytes: 65536, maxCommandBytes: 200000 })) {
        if (ev.kind !== 'frame') continue;
        try {
          parseImapFrame(ev.segments);
        } catch (err) {
          expectOnly(err, ImapSyntaxError);
        }
      }
    },
  },
  pop3: {
    description: 'POP3 line reader, SASL PLAIN decoding and dot-stuffing (stuffed text unstuffs to the input)',
    input: mutated(
      fc
        .array(
          fc.oneof(
            fc.constantFrom(
              'USER ann',
              'PASS x',
              'STAT',
              'LIST 1',
              'RETR 99999999999',
              'TOP 1 5',
              'UIDL',
              'CAPA',
              'STLS',
              'QUIT',
              '.',
              '..',
              '',
            ),
            fc.string({ maxLength: 40 }).map((s) => `AUTH PLAIN ${Buffer.from(s).toString('base64')}`),
          ),
          { maxLength: 8 },
        )
        .map((ls) => ls.join('\r\n')),
    ),
    run(buf) {
      const reader = new LineReader(64);
      for (const c of chunks(buf, 7)) {
        reader.push(c);
        for (let ev = reader.next(); ev; ev = reader.next()) {
          if (ev.kind === 'line' && ev.text.startsWith('AUTH PLAIN ')) decodeSaslPlain(ev.text.slice(11));
        }
      }
      const stuffer = new DotStuffer();
      const out = Buffer.concat([...chunks(buf, 3).map((c) => stuffer.push(c)), stuffer.end()]).toString('latin1');
      if (!out.endsWith('.\r\n')) throw new Error('no terminating line');
      const unstuffed = out
        .slice(0, -3)
        .split('\r\n')
        .map((l) => (l.startsWith('.') ? l.slice(1) : l))
        .join('\r\n');
      const expected = buf.toString('latin1').replace(/\r?\n/g, '\r\n');
      if (unstuffed !== (expected.endsWith('\r\n') || expected === '' ? expected : `${expected}\r\n`))
        throw new Error('dot-stuffing is not reversible');
      if (/\r\n\.\r\n/.test(out.slice(0, -3)) || out.slice(0, -3).startsWith('.\r\n'))
        throw new Error('a lone dot inside the message');
    },
  },
  managesieve: {
    description: 'ManageSieve command reader (lines, literals, skip budget) in random chunkings',
    input: mutated(
      fc
        .array(
          fc.oneof(
            fc.constantFrom(
              'CAPABILITY',
              'LOGOUT',
              'STARTTLS',
              'AUTHENTICATE "PLAIN" "AGFubgBwdw=="',
              'LISTSCRIPTS',
              'NOOP "tag"',
              'HAVESPACE "x" 99999999999',
            ),
            fc
              .tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 60 }))
              .map(([n, s]) => `PUTSCRIPT "${n}" {${Buffer.byteLength(s)}+}\r\n${s}`),
            fc.string({ maxLength: 30 }).map((s) => `GETSCRIPT "${s}"`),
          ),
          { maxLength: 5 },
        )
        .map((cs) => cs.map((c) => `${c}\r\n`).join('')),
    ),
    run(buf) {
      const reader = new CommandReader({
        maxLineBytes: 256,
        maxLiteralBytes: 128,
        maxCommandBytes: 1024,
        maxSkipBytes: 2048,
      });
      const events: ReaderEvent[] = [];
      for (const c of chunks(buf, 5)) events.push(...reader.push(c));
      for (const ev of events)
        if (ev.kind === 'command' && ev.tokens.length > 16) throw new Error('token bound broken');
    },
  },
  sieve: {
    description: 'Sieve scripts: parse, check and run against a message within the work budget',
    input: mutated(
      fc
        .array(
          fc.constantFrom(
            'require ["fileinto", "variables", "envelope", "body", "relational", "comparator-i;ascii-numeric", "imap4flags", "vacation"];',
            'if header :contains "subject" "x" { fileinto "X"; }',
            'if header :matches "subject" "*a*a*a*a*b" { stop; }',
            'set "v" "${1}"; if string :is "${v}" "" { keep; }',
            'if body :text :contains "needle" { discard; }',
            'if size :over 10K { reject "big"; }',
            'vacation :days 1 "away";',
            'if anyof (true, false, not exists "to") { addflag "\\\\Seen"; }',
            'if envelope :all :is "from" "" { redirect "a@b.example"; }',
            'elsif',
            '{',
            '}',
            '"',
            'text:\r\nx\r\n.\r\n',
            '# c\r\n',
            '/* c */',
            'if header :value "ge" :comparator "i;ascii-numeric" "x-n" "10" { keep; }',
          ),
          { maxLength: 10 },
        )
        .map((s) => s.join('\r\n')),
    ),
    run(buf) {
      let script;
      try {
        script = compileScript(buf.toString('utf8'));
      } catch (err) {
        expectOnly(err, SieveError);
        return;
      }
      const msg: SieveMessage = {
        header: (name) => (name.toLowerCase() === 'subject' ? ['a'.repeat(200)] : []),
        envelope: { from: 'x@remote.example', to: 'ann@example.com' },
        size: 20_000,
        body: () => ['needle in a haystack '.repeat(100)],
        mailboxExists: () => false,
      };
      try {
        runScript(script, msg, { maxRedirects: 4, maxActions: 32 });
      } catch (err) {
        expectOnly(err, SieveRuntimeError);
      }
    },
  },
  mime: {
    description: 'MIME structure, envelope and search text of a message',
    input: mutated(
      fc
        .tuple(
          fc.constantFrom(
            'multipart/mixed; boundary=b',
            'multipart/alternative; boundary="b"',
            'message/rfc822',
            'text/html; charset=utf-8',
            'text/plain; charset=x-unknown',
            'multipart/digest; boundary=b',
          ),
          fc.array(
            fc.constantFrom(
              '--b\r\n',
              '--b--\r\n',
              'Content-Type: text/plain\r\n',
              'Content-Transfer-Encoding: base64\r\n',
              'Content-Transfer-Encoding: quoted-printable\r\n',
              '\r\n',
              'aGVsbG8=\r\n',
              '=E9t=\r\n',
              '<script>x</script><p>y',
              'From: "a" <a@b>, (c) d@e\r\n',
              'Subject: =?utf-8?B?w6k=?=\r\n',
              'To: group: a@b, c@d;\r\n',
            ),
            { maxLength: 20 },
          ),
        )
        .map(([ct, parts]) => `From: x@y\r\nContent-Type: ${ct}\r\n\r\n${parts.join('')}`),
    ),
    run(buf) {
      const parsed = parseMessage(buf);
      const check = (p: typeof parsed.structure) => {
        if (p.headerStart > p.bodyStart || p.bodyStart > p.end || p.end > buf.length)
          throw new Error(`bad offsets ${p.headerStart} ${p.bodyStart} ${p.end}`);
        p.children.forEach(check);
      };
      check(parsed.structure);
      searchText(buf, parsed);
      htmlToText(buf.toString('latin1'));
      stripOurResults(buf, 'mail.example.com');
    },
  },
  'spam-rules': {
    description: 'the built-in spam rules on a message: headers, attachments, hidden HTML text, links',
    input: mutated(
      fc
        .tuple(
          fc.constantFrom('multipart/mixed; boundary=b', 'text/html; charset=utf-8', 'application/pdf; name=a.pdf.exe'),
          fc.array(
            fc.constantFrom(
              '--b\r\n',
              '--b--\r\n',
              'Content-Type: image/png; name="x.jpg.scr . "\r\n',
              "Content-Disposition: attachment; filename*=utf-8''a%2Epdf.exe\r\n",
              'Content-Transfer-Encoding: base64\r\n',
              '\r\n',
              'TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\r\n',
              '<div style="display:none;font-size:0">hidden words</div>',
              '<font color=#fff bgcolor=white>same</font><p style="color:rgb(1,2,3',
              'https://user@www.link.example:80/x http://[::1]/ http://',
              'From: "pay@bank.example" <x@evil.example>\r\n',
              'Subject: =?utf-8?B?RlJFRSBNT05FWSBOT1c=?=\r\n',
            ),
            { maxLength: 20 },
          ),
        )
        .map(([ct, parts]) => `From: x@y\r\nContent-Type: ${ct}\r\n\r\n${parts.join('')}`),
    ),
    run(buf) {
      const symbols = contentSymbols({
        data: buf,
        head: parseMessage(buf).headers,
        accounts: [{ id: 1, address: 'ann@example.com' }],
        auth: { spf: 'fail', dmarc: 'pass', dkim: [{ domain: 'x', result: 'pass' }], arc: 'none' },
      });
      for (const s of symbols)
        if (!/^[A-Z][A-Z0-9_]*$/.test(s.name) || !Number.isFinite(s.score)) throw new Error(`bad symbol ${s.name}`);
      const text = buf.toString('latin1');
      hiddenText(text);
      if (linkDomains(text, 20).length > 20) throw new Error('more link domains than the cap');
    },
  },
  'dns-records': {
    description: 'SPF, DMARC and DKIM key record parsers',
    input: mutated(
      fc.oneof(
        fc
          .array(
            fc.constantFrom(
              'v=spf1',
              'ip4:192.0.2.0/24',
              'ip6:2001:db8::/32',
              'include:_spf.example',
              'a',
              'mx:example.com/24',
              'ptr',
              'exists:%{i}.x',
              'redirect=x',
              '-all',
              '~all',
              '?all',
              '+all',
              'exp=e',
              'ipv4:1.2.3.4',
              'include=x',
              'a:/33',
            ),
            { maxLength: 10 },
          )
          .map((t) => t.join(' ')),
        fc
          .array(
            fc.constantFrom(
              'v=DMARC1',
              'p=reject',
              'sp=none',
              'pct=50',
              'rua=mailto:a@b,mailto:c@d!10m',
              'ruf=mailto:x',
              'adkim=s',
              'aspf=r',
              'fo=1:d',
              'p=',
              '=',
              ';',
            ),
            { maxLength: 10 },
          )
          .map((t) => t.join('; ')),
        fc
          .array(
            fc.constantFrom(
              'v=DKIM1',
              'k=rsa',
              'k=ed25519',
              'p=MIIBIjANBgkq',
              'p=',
              't=y:s',
              'h=sha256',
              's=email',
              'n=note',
            ),
            { maxLength: 8 },
          )
          .map((t) => t.join('; ')),
      ),
    ),
    run(buf) {
      const txt = buf.toString('latin1');
      parseSpf(txt);
      parseDmarc(txt);
      parseDkimKeyRecord(txt);
    },
  },
  'tls-hello': {
    description: 'TLS ClientHello peek (SNI and ALPN read off a plain socket before the handshake)',
    input: fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
      fc
        .tuple(
          fc.string({ maxLength: 40 }),
          fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }),
          fc.nat(),
          fc.uint8Array({ maxLength: 4 }),
        )
        .map(([sni, alpn, cut, noise]) => {
          const hello = clientHello(sni, alpn);
          return Buffer.concat([hello.subarray(0, cut % (hello.length + 1)), Buffer.from(noise)]);
        }),
    ),
    run(buf) {
      const r = parseClientHello(buf);
      if (r !== undefined && r !== 'more' && (typeof r !== 'object' || !Array.isArray(r.alpn)))
        throw new Error('malformed result');
    },
  },
};

/** A TLS 1.2 ClientHello record with an SNI and an ALPN extension (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301). */
function clientHello(sni: string, alpn: string[]): Buffer {
  const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
  const name = Buffer.from(sni);
  const sniExt = Buffer.concat([
    u16(0),
    u16(name.length + 5),
    u16(name.length + 3),
    Buffer.from([0]),
    u16(name.length),
    name,
  ]);
  const protos = Buffer.concat(
    alpn.map((p) => Buffer.concat([Buffer.from([Buffer.byteLength(p) & 0xff]), Buffer.from(p)])),
  );
  const alpnExt = Buffer.concat([u16(16), u16(protos.length + 2), u16(protos.length), protos]);
  const exts = Buffer.concat([sniExt, alpnExt]);
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32),
    Buffer.from([0]),
    u16(2),
    Buffer.from([0x13, 0x01]),
    Buffer.from([1, 0]),
    u16(exts.length),
    exts,
  ]);
  const hs = Buffer.concat([Buffer.from([1, (body.length >> 16) & 0xff]), u16(body.length & 0xffff), body]);
  return Buffer.concat([Buffer.from([22, 3, 1]), u16(hs.length), hs]);
}
