/**
 * `postern doctor` against a running server, a local authoritative DNS server and a reachability
 * probe, all on 127.0.0.1. The good domain is served exactly the records `postern dns` prints; each
 * broken domain carries one of the mistakes admins make (the seed's MX to a CNAME,
 * `-spf1 include:example.com-all`, a DKIM record under the wrong selector or split wrongly, a missing
 * PTR …), and certificates are expired, for the wrong name, self-signed or with a mismatched key.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/lib/log.js';
import { startServer, type Server } from '../src/main.js';
import { freePort, posternRun } from './helpers/cli.js';
import { makeCert, writeCertbotCert, type TestCert } from './helpers/certs.js';
import { startDns, type TestDns, type Zone } from './helpers/dns-server.js';
import { peer } from './helpers/peers.js';
import { tempDir } from './helpers/tmp.js';

const skip = peer('openssl', 'openssl') || undefined;
const PUBLIC_IP = '192.0.2.10'; // documentation range: only ever a DNS answer here, never dialled
const HOST = 'mail.example.com';
const LISTEN = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http', 'https'] as const;

interface Finding {
  id: string;
  severity: string;
  scope: string;
  summary: string;
  why: string;
  observed: string;
  expected: string;
  fix: string;
}
interface Report {
  findings: Finding[];
  counts: Record<string, number>;
  clientSettings: Array<{ host: string; port: number }>;
}

/** DNS-broken cases: one hosted domain each, records from `postern dns`, then one mistake applied. */
const DNS_CASES = [
  'mx-cname',
  'mx-missing',
  'mx-ip',
  'spf-glued',
  'spf-multiple',
  'spf-lookups',
  'spf-plusall',
  'spf-other-ip',
  'dkim-selector',
  'dkim-split',
  'dkim-quotes',
  'dkim-truncated',
  'dkim-k',
  'dmarc-missing',
  'dmarc-syntax',
  'mta-sts-missing',
  'srv-port',
  'dmarc-report',
  'spf-void',
  'mta-sts-stale',
  'tls-rpt-syntax',
].map((c) => `${c}.example.net`);
/** Certificate cases: their web names (mta-sts., autoconfig., webmail.) get these certificates. */
const CERT_CASES = ['expired', 'wrongname', 'selfsigned', 'expiring'].map((c) => `${c}.example.net`);

describe('postern doctor', { skip, timeout: 240_000 }, () => {
  let dir: string;
  let config: string;
  let dns: TestDns;
  let server: Server;
  let ports: Record<string, number>;
  let ca: TestCert;
  let probe: http.Server;
  let probeUrl: string;
  const closedByProbe = new Set<number>();
  const good = new Map<string, Zone>();

  /** `postern doctor` with the test's probe, outgoing-25 target and timeout; later arguments override them. */
  const run = (configFile: string, args: string[]) =>
    posternRun(
      [
        '--config',
        configFile,
        'doctor',
        '--probe',
        probeUrl,
        '--outbound-probe',
        `127.0.0.1:${ports.smtp}`,
        '--timeout',
        '3s',
        ...args,
      ],
      { env: { NODE_EXTRA_CA_CERTS: ca.certFile } },
    );
  const doctor = async (args: string[], configFile = config) => {
    const r = await run(configFile, ['--json', ...args]);
    assert.ok(r.stdout.startsWith('{'), `doctor printed no JSON (exit ${r.code}): ${r.stderr}`);
    return { code: r.code, report: JSON.parse(r.stdout) as Report };
  };
  const ids = (report: Report, scope: string) =>
    report.findings
      .filter((f) => f.scope === scope)
      .map((f) => f.id)
      .sort();
  const find = (report: Report, scope: string, id: string) => {
    const f = report.findings.find((x) => x.scope === scope && x.id === id);
    assert.ok(f, `expected ${id} for ${scope}; got ${JSON.stringify(ids(report, scope))}`);
    return f;
  };

  /** Loads what `postern dns D --json` prints into the test DNS server. */
  const publish = async (domain: string) => {
    const r = await posternRun(['--config', config, 'dns', domain, '--json']);
    assert.equal(r.code, 0, r.stderr);
    for (const rec of JSON.parse(r.stdout) as Array<{ name: string; type: string; value: string }>) {
      const name = rec.name.replace(/\.$/, '');
      const zone: Zone = { ...(dns.records.get(name) ?? {}) };
      if (rec.type === 'A') zone.A = [...new Set([...(zone.A ?? []), rec.value])];
      else if (rec.type === 'MX') {
        const [p, h] = rec.value.split(' ');
        zone.MX = [{ preference: Number(p), exchange: h!.replace(/\.$/, '') }];
      } else if (rec.type === 'TXT')
        zone.TXT = [
          ...(zone.TXT ?? []),
          [...rec.value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1')),
        ];
      else if (rec.type === 'SRV') {
        const [priority, weight, port, target] = rec.value.split(' ');
        zone.SRV = [
          {
            priority: Number(priority),
            weight: Number(weight),
            port: Number(port),
            target: target!.replace(/\.$/, ''),
          },
        ];
      } else if (rec.type === 'PTR') zone.PTR = [rec.value.replace(/\.$/, '')];
      else throw new Error(`unexpected record type ${rec.type}`);
      dns.set(name, zone);
    }
  };
  const txt = (name: string) => (dns.records.get(name)?.TXT ?? []).map((t) => (Array.isArray(t) ? t.join('') : t));
  const setTxt = (name: string, values: Array<string | string[]>) =>
    dns.set(name, { ...(dns.records.get(name) ?? {}), TXT: values });

  before(async () => {
    dir = tempDir();
    dns = await startDns();
    ports = {};
    for (const l of LISTEN) ports[l] = await freePort();
    ca = await makeCert({ commonName: 'Doctor Test CA', isCa: true });
    const letsencrypt = path.join(dir, 'letsencrypt');
    const webNames = (d: string) => [`mta-sts.${d}`, `autoconfig.${d}`, `webmail.${d}`];
    // One CA-signed certificate for the hostname and the web names of every domain without a certificate case.
    const leaf = await makeCert({
      commonName: HOST,
      altNames: [HOST, ...['example.com', ...DNS_CASES].flatMap(webNames)],
      issuer: ca,
      days: 90,
    });
    const live = (name: string, cert: { key: string; cert: string }) => {
      mkdirSync(path.join(letsencrypt, 'live', name), { recursive: true });
      writeFileSync(path.join(letsencrypt, 'live', name, 'privkey.pem'), cert.key);
      writeFileSync(path.join(letsencrypt, 'live', name, 'fullchain.pem'), cert.cert);
    };
    live(HOST, leaf);
    await writeCertbotCert(letsencrypt, 'expired.example.net', webNames('expired.example.net'), {
      notAfter: new Date(Date.now() - 86_400_000),
    });
    await writeCertbotCert(letsencrypt, 'selfsigned.example.net', webNames('selfsigned.example.net'));
    live(
      'expiring.example.net',
      await makeCert({
        commonName: 'mta-sts.expiring.example.net',
        altNames: webNames('expiring.example.net'),
        issuer: ca,
        days: 5,
      }),
    );
    // wrongname.example.net has no certificate: its names get the hostname's.
    const listen = LISTEN.map((l) => `${l} = ["127.0.0.1:${ports[l]}"]`).join('\n');
    const text = `hostname = "${HOST}"
data_dir = "${dir}/data"
[listen]
${listen}
lmtp = []
managesieve = []
[tls]
certbot_dir = "${letsencrypt}"
[dns]
resolvers = ["${dns.address}"]
public_addresses = ["${PUBLIC_IP}"]
[log]
level = "error"
[auth]
failure_delay = "0s"
`;
    config = path.join(dir, 'postern.toml');
    writeFileSync(config, text);
    server = await startServer(parseConfig(text, config), createLogger({ level: 'silent' }));
    const domains = ['example.com', ...DNS_CASES, ...CERT_CASES];
    await Promise.all(domains.map((d) => server.directory.addDomain(d))); // each gets a DKIM key

    // The good zone: exactly what `postern dns` prints, for every domain; then the mistakes.
    for (let n = 0; n < domains.length; n += 8) await Promise.all(domains.slice(n, n + 8).map(publish));
    for (const [name, zone] of dns.records) good.set(name, structuredClone(zone));
    dns.set('gmail.com', { MX: [{ preference: 5, exchange: 'gmail-smtp-in.l.google.com' }] });

    // Reachability probe: answers for the public address by trying the same port on loopback.
    probe = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://probe');
      const port = Number(url.searchParams.get('port'));
      const reply = (open: boolean) => res.end(JSON.stringify({ open }));
      if (url.searchParams.get('host') !== PUBLIC_IP || closedByProbe.has(port)) return reply(false);
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        reply(true);
      });
      s.on('error', () => reply(false));
    });
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    probeUrl = `http://127.0.0.1:${(probe.address() as net.AddressInfo).port}/check`;
  });

  after(async () => {
    await server?.stop(1000);
    await dns?.close();
    await new Promise((r) => probe?.close(r));
  });

  it('finds nothing wrong with the records `postern dns` prints, apart from the p=none advice', async () => {
    const { code, report } = await doctor(['example.com']);
    assert.deepEqual(
      report.findings.filter((f) => f.scope === HOST),
      [],
      JSON.stringify(report.findings, null, 1),
    );
    assert.deepEqual(ids(report, 'example.com'), ['dmarc.policy.none']);
    assert.equal(code, 0, 'notes do not change the exit code');
    assert.match(
      find(report, 'example.com', 'dmarc.policy.none').fix,
      /_dmarc\.example\.com\.\s+IN\s+TXT\s+"v=DMARC1; p=quarantine/,
    );
    assert.deepEqual(
      report.clientSettings.map((s) => s.host),
      Array(6).fill(HOST),
    );
  });

  it('reports no finding at all once DMARC is at p=reject, in the human format too', async () => {
    setTxt('_dmarc.example.com', ['v=DMARC1; p=reject; rua=mailto:postmaster@example.com']);
    try {
      const { code, report } = await doctor(['example.com']);
      assert.deepEqual(report.findings, []);
      assert.equal(code, 0);
      const human = await run(config, ['example.com']);
      assert.equal(human.code, 0, human.stdout + human.stderr);
      assert.match(human.stdout, /no problems found/);
      assert.match(human.stdout, new RegExp(`IMAP \\(TLS\\)\\s+${HOST}:${ports.imaps}`));
      assert.doesNotMatch(human.stdout, /\x1b\[/, 'no colour when stdout is not a terminal');
    } finally {
      dns.set('_dmarc.example.com', good.get('_dmarc.example.com')!);
    }
  });

  it('names each DNS mistake with its fix', async () => {
    const d = (c: string) => `${c}.example.net`;
    // MX to a CNAME (the seed's first DNS rule), a missing MX, an MX that is an IP address.
    dns.set('mx.mx-cname.example.net', { CNAME: HOST });
    dns.set(d('mx-cname'), {
      ...good.get(d('mx-cname')),
      MX: [{ preference: 10, exchange: 'mx.mx-cname.example.net' }],
    });
    dns.set(d('mx-missing'), { ...good.get(d('mx-missing')), MX: [] });
    dns.set(d('mx-ip'), { ...good.get(d('mx-ip')), MX: [{ preference: 10, exchange: PUBLIC_IP }] });
    // SPF: the seed's "-spf1 include:example.com-all", two records, 11 lookups, +all, another IP only.
    setTxt(d('spf-glued'), ['-spf1 include:example.com-all']);
    setTxt(d('spf-multiple'), ['v=spf1 mx -all', `v=spf1 ip4:${PUBLIC_IP} -all`]);
    for (let n = 0; n < 11; n++)
      setTxt(`l${n}.spf-lookups.example.net`, [
        n < 10 ? `v=spf1 include:l${n + 1}.spf-lookups.example.net -all` : 'v=spf1 a -all',
      ]);
    dns.set('l10.spf-lookups.example.net', { ...dns.records.get('l10.spf-lookups.example.net'), A: ['198.51.100.7'] });
    setTxt(d('spf-lookups'), ['v=spf1 mx include:l0.spf-lookups.example.net -all']);
    setTxt(d('spf-plusall'), ['v=spf1 mx +all']);
    setTxt(d('spf-other-ip'), ['v=spf1 ip4:198.51.100.1 -all']);
    // DKIM: the record under another selector (as a panel's default), split into two records, quoted
    // twice by a DNS panel, truncated, and with k= saying the wrong algorithm.
    const dkimName = (domain: string) => [...dns.records.keys()].find((n) => n.endsWith(`._domainkey.${domain}`))!;
    const moveKey = dkimName(d('dkim-selector'));
    dns.set(`default._domainkey.${d('dkim-selector')}`, dns.records.get(moveKey)!);
    dns.records.delete(moveKey);
    const split = txt(dkimName(d('dkim-split')))[0]!;
    setTxt(dkimName(d('dkim-split')), [split.slice(0, 200), split.slice(200)]);
    const quoted = txt(dkimName(d('dkim-quotes')))[0]!;
    setTxt(dkimName(d('dkim-quotes')), [[`"${quoted.slice(0, 250)}"`, `"${quoted.slice(250)}"`]]);
    setTxt(dkimName(d('dkim-truncated')), [txt(dkimName(d('dkim-truncated')))[0]!.slice(0, 255)]);
    const chunks = (v: string) => v.match(/.{1,255}/g)!;
    setTxt(dkimName(d('dkim-k')), [chunks(txt(dkimName(d('dkim-k')))[0]!.replace('k=rsa', 'k=ed25519'))]);
    // DMARC missing, with a bad policy, and reporting to a domain that did not agree to it.
    dns.records.delete(`_dmarc.${d('dmarc-missing')}`);
    setTxt(`_dmarc.${d('dmarc-syntax')}`, ['v=DMARC1; p=rejected; pct=150']);
    setTxt(`_dmarc.${d('dmarc-report')}`, ['v=DMARC1; p=none; rua=mailto:reports@dmarc-vendor.example.org']);
    // MTA-STS record missing; SRV pointing to the wrong port.
    dns.records.delete(`_mta-sts.${d('mta-sts-missing')}`);
    setTxt(d('spf-void'), ['v=spf1 mx a:gone1.spf-void.example.net include:gone2.spf-void.example.net -all']);
    setTxt(`_mta-sts.${d('mta-sts-stale')}`, ['v=STSv1; id=20240101']);
    setTxt(`_smtp._tls.${d('tls-rpt-syntax')}`, ['v=TLSRPTv1; rua=postmaster@tls-rpt-syntax.example.net']);
    dns.set(`_imaps._tcp.${d('srv-port')}`, { SRV: [{ priority: 0, weight: 1, port: 143, target: HOST }] });

    const { code, report } = await doctor([...DNS_CASES]);
    assert.equal(code, 2, 'errors exit 2');

    const cname = find(report, d('mx-cname'), 'mx.cname');
    assert.match(cname.observed, /mx\.mx-cname\.example\.net CNAME mail\.example\.com/);
    assert.match(cname.fix, /mx-cname\.example\.net\.\s+IN\s+MX\s+10 mail\.example\.com\./);
    assert.match(find(report, d('mx-missing'), 'mx.missing').fix, /MX\s+10 mail\.example\.com\./);
    find(report, d('mx-ip'), 'mx.ip');
    // The CNAME leads to this server, under a name no certificate carries.
    assert.match(
      find(report, d('mx-cname'), 'mx.not-on-certificate').summary,
      /mx\.mx-cname\.example\.net is not a name on any certificate/,
    );

    const glued = find(report, d('spf-glued'), 'spf.syntax');
    assert.equal(glued.observed, '-spf1 include:example.com-all');
    assert.equal(glued.expected, 'v=spf1 include:example.com -all');
    assert.match(glued.summary, /v=spf1/);
    assert.match(glued.summary, /missing space/);
    assert.match(glued.fix, /spf-glued\.example\.net\.\s+IN\s+TXT\s+"v=spf1 include:example\.com -all"/);
    find(report, d('spf-multiple'), 'spf.multiple');
    assert.match(find(report, d('spf-lookups'), 'spf.lookups').summary, /1[2-9] DNS lookups/);
    find(report, d('spf-plusall'), 'spf.all.permissive');
    const other = find(report, d('spf-other-ip'), 'spf.ip-not-permitted');
    assert.match(other.fix, /ip4:192\.0\.2\.10/);

    const selector = find(report, d('dkim-selector'), 'dkim.missing');
    assert.match(
      selector.fix,
      /^mail\d{4}[a-z0-9]*\._domainkey\.dkim-selector\.example\.net\.\s+IN\s+TXT\s+\( "v=DKIM1; k=rsa; p=/m,
    );
    assert.match(find(report, d('dkim-split'), 'dkim.split-records').summary, /split over 2 TXT records/);
    find(report, d('dkim-quotes'), 'dkim.quotes');
    assert.match(find(report, d('dkim-truncated'), 'dkim.truncated').summary, /truncated \(\d+ of \d+ characters\)/);
    find(report, d('dkim-k'), 'dkim.k-mismatch');
    assert.match(find(report, d('spf-void'), 'spf.include.missing').summary, /gone2\.spf-void\.example\.net/);
    assert.match(
      find(report, d('spf-void'), 'spf.void-lookups').observed,
      /gone1\.spf-void\.example\.net, gone2\.spf-void\.example\.net/,
    );
    assert.match(find(report, d('mta-sts-stale'), 'mta-sts.id.stale').fix, /"v=STSv1; id=\w+"/);
    find(report, d('tls-rpt-syntax'), 'tls-rpt.syntax');

    assert.match(
      find(report, d('dmarc-missing'), 'dmarc.missing').fix,
      /_dmarc\.dmarc-missing\.example\.net\.\s+IN\s+TXT\s+"v=DMARC1; p=none; rua=mailto:postmaster@dmarc-missing\.example\.net"/,
    );
    assert.match(find(report, d('dmarc-syntax'), 'dmarc.syntax').summary, /p=rejected.*pct=150/);
    assert.match(
      find(report, d('dmarc-report'), 'dmarc.report.unauthorized').fix,
      /dmarc-report\.example\.net\._report\._dmarc\.dmarc-vendor\.example\.org\.\s+IN\s+TXT\s+"v=DMARC1"/,
    );
    assert.match(
      find(report, d('mta-sts-missing'), 'mta-sts.missing').fix,
      /_mta-sts\.mta-sts-missing\.example\.net\.\s+IN\s+TXT\s+"v=STSv1; id=\w+"/,
    );
    assert.match(
      find(report, d('srv-port'), 'srv.mismatch').fix,
      new RegExp(
        `_imaps\\._tcp\\.srv-port\\.example\\.net\\.\\s+IN\\s+SRV\\s+0 1 ${ports.imaps} mail\\.example\\.com\\.`,
      ),
    );

    // Each case produces its own finding and no error of another kind.
    const expected: Record<string, string[]> = {
      'spf-glued': ['spf.syntax'],
      'dkim-split': ['dkim.split-records'],
      'dkim-quotes': ['dkim.quotes'],
      'dkim-truncated': ['dkim.truncated'],
      'dkim-k': ['dkim.k-mismatch'],
      'dkim-selector': ['dkim.missing'],
      'srv-port': ['srv.mismatch'],
      // "v=spf1 mx -all" names no host once the MX is gone: SPF fails too, and says why.
      'mx-missing': ['mx.missing', 'spf.ip-not-permitted'],
    };
    for (const [c, want] of Object.entries(expected)) {
      assert.deepEqual(
        report.findings.filter((f) => f.scope === d(c) && f.severity === 'error').map((f) => f.id),
        want,
        `${c}: ${JSON.stringify(ids(report, d(c)))}`,
      );
    }
    for (const f of report.findings) {
      for (const k of ['summary', 'why', 'observed', 'expected', 'fix'] as const) assert.ok(f[k], `${f.id} has a ${k}`);
    }
  });

  it('checks the certificate every name is served with', async () => {
    const { report } = await doctor([...CERT_CASES]);
    assert.match(
      find(report, 'expired.example.net', 'tls.expired').summary,
      /mta-sts\.expired\.example\.net expired on/,
    );
    assert.match(find(report, 'wrongname.example.net', 'tls.name-mismatch').observed, /mail\.example\.com/);
    find(report, 'selfsigned.example.net', 'tls.self-signed');
    assert.match(find(report, 'expiring.example.net', 'tls.expiring').summary, /expires in [45] days/);
    assert.ok(
      !report.findings.some((f) => f.scope === 'expiring.example.net' && f.severity === 'error'),
      JSON.stringify(ids(report, 'expiring.example.net')),
    );
  });

  it('finds a key that does not match its certificate', async () => {
    const other = await makeCert({ commonName: 'mismatch.example.net', issuer: ca });
    const wrong = await makeCert({ commonName: 'mismatch.example.net', issuer: ca });
    const lineage = path.join(dir, 'letsencrypt', 'live', 'mismatch');
    mkdirSync(lineage, { recursive: true });
    writeFileSync(path.join(lineage, 'fullchain.pem'), other.cert);
    writeFileSync(path.join(lineage, 'privkey.pem'), wrong.key);
    try {
      const { report } = await doctor(['example.com']);
      const f = find(report, HOST, 'tls.key-mismatch');
      assert.match(f.summary, /live\/mismatch\/privkey\.pem does not belong to the certificate/);
    } finally {
      writeFileSync(path.join(lineage, 'privkey.pem'), other.key);
    }
  });

  it('checks reverse DNS, forward confirmation and DNS blocklists', async () => {
    const ptrName = '10.2.0.192.in-addr.arpa';
    dns.records.delete(ptrName);
    let { report } = await doctor(['example.com']);
    assert.match(
      find(report, HOST, 'ptr.missing').fix,
      /10\.2\.0\.192\.in-addr\.arpa\.\s+IN\s+PTR\s+mail\.example\.com\./,
    );

    dns.set(ptrName, { PTR: ['ip-192-0-2-10.provider.example'] });
    ({ report } = await doctor(['example.com']));
    find(report, HOST, 'ptr.mismatch');
    find(report, HOST, 'ptr.fcrdns');

    dns.set(ptrName, good.get(ptrName)!);
    dns.set('10.2.0.192.zen.spamhaus.org', { A: ['127.0.0.2'] });
    try {
      ({ report } = await doctor(['example.com']));
      assert.match(find(report, HOST, 'dnsbl.listed').summary, /192\.0\.2\.10 is listed on zen\.spamhaus\.org/);
    } finally {
      dns.records.delete('10.2.0.192.zen.spamhaus.org');
    }
  });

  it('checks the ports from outside, outgoing port 25, and what each listener offers', async () => {
    // The probe reports the MX port closed from outside; outgoing port 25 reaches a server that never greets.
    closedByProbe.add(ports.smtp!);
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const silentPort = (silent.address() as net.AddressInfo).port;
      const { report } = await doctor([
        'example.com',
        '--outbound-probe',
        `127.0.0.1:${silentPort}`,
        '--timeout',
        '1s',
      ]);
      const unreachable = find(report, HOST, 'port.unreachable');
      assert.equal(unreachable.summary, `not reachable at 192.0.2.10 from outside: smtp ${ports.smtp}`);
      assert.match(unreachable.fix, new RegExp(`^open ${ports.smtp}/tcp in the firewall`));
      find(report, HOST, 'outbound.port25.no-greeting');
    } finally {
      closedByProbe.clear();
      silent.close();
    }

    // Servers that get it wrong: an MX greeting with another name and no STARTTLS, an IMAP server
    // that allows LOGIN in clear text, a POP3 server without STLS, and a port nothing listens on.
    const fakes: net.Server[] = [];
    const fake = async (onLine: (line: string, write: (s: string) => void) => void, greeting: string) => {
      const s = net.createServer((sock) => {
        sock.write(greeting);
        let buf = '';
        sock.on('data', (d) => {
          buf += d.toString();
          let at;
          while ((at = buf.indexOf('\r\n')) >= 0) {
            const line = buf.slice(0, at);
            buf = buf.slice(at + 2);
            onLine(line, (x) => sock.write(x));
          }
        });
        sock.on('error', () => undefined);
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      fakes.push(s);
      return (s.address() as net.AddressInfo).port;
    };
    const smtpFake = await fake(
      (l, w) => w(/^EHLO/i.test(l) ? '250-relay.internal\r\n250 SIZE 1000\r\n' : '221 bye\r\n'),
      '220 relay.internal ESMTP\r\n',
    );
    const imapFake = await fake((l, w) => {
      const tag = l.split(' ')[0];
      w(
        /CAPABILITY/i.test(l)
          ? `* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n${tag} OK done\r\n`
          : `${tag} OK bye\r\n`,
      );
    }, '* OK ready\r\n');
    const popFake = await fake(
      (l, w) => w(/^CAPA/i.test(l) ? '+OK\r\nUSER\r\nUIDL\r\n.\r\n' : '+OK bye\r\n'),
      '+OK ready\r\n',
    );
    const closed = await freePort();
    const broken = readFileSync(config, 'utf8')
      .replace(/^smtp = .*$/m, `smtp = ["127.0.0.1:${smtpFake}"]`)
      .replace(/^imap = .*$/m, `imap = ["127.0.0.1:${imapFake}"]`)
      .replace(/^pop3 = .*$/m, `pop3 = ["127.0.0.1:${popFake}", "127.0.0.1:${closed}"]`);
    const brokenConfig = path.join(dir, 'broken.toml');
    writeFileSync(brokenConfig, broken);
    try {
      const { code, report } = await doctor(['example.com'], brokenConfig);
      assert.equal(code, 2);
      assert.match(find(report, HOST, 'smtp.greeting.name').observed, /220 relay\.internal/);
      find(report, HOST, 'smtp.starttls.missing');
      find(report, HOST, 'imap.logindisabled.missing');
      find(report, HOST, 'pop3.stls.missing');
      assert.match(find(report, HOST, 'port.closed').summary, new RegExp(`pop3 \\(127\\.0\\.0\\.1:${closed}\\)`));
    } finally {
      for (const s of fakes) s.close();
    }
  });

  it('flags an internal host name, answers bad arguments with a usage error, and unknown domains with an error', async () => {
    const internal = path.join(dir, 'internal.toml');
    writeFileSync(internal, readFileSync(config, 'utf8').replace(`hostname = "${HOST}"`, 'hostname = "dovecot"'));
    const { report } = await doctor(['example.com', '--timeout', '2s'], internal);
    assert.ok(
      report.findings.some((f) => f.scope === 'dovecot' && f.id === 'host.name.internal'),
      JSON.stringify(report.findings.map((f) => f.id)),
    );
    const { report: deafReport } = await doctor([
      'example.com',
      '--resolver',
      `127.0.0.1:${await freePort()}`,
      '--timeout',
      '2s',
    ]);
    assert.deepEqual(
      deafReport.findings.map((f) => f.id),
      ['dns.resolver.unreachable'],
      'one finding, not one per lookup; TLS and ports are still checked and fine',
    );
    // With nothing listening: one finding rather than one per port.
    let stopped = readFileSync(config, 'utf8');
    for (const l of LISTEN) stopped = stopped.replace(`127.0.0.1:${ports[l]}"`, `127.0.0.1:${await freePort()}"`);
    const stoppedConfig = path.join(dir, 'stopped.toml');
    writeFileSync(stoppedConfig, stopped);
    const down = await doctor(['example.com'], stoppedConfig);
    assert.deepEqual(
      down.report.findings.filter((f) => f.scope === HOST).map((f) => f.id),
      ['server.not-running'],
    );
    assert.equal((await posternRun(['--config', config, 'doctor', '--timeout', 'soon'])).code, 2);
    assert.equal((await posternRun(['--config', config, 'doctor', '--probe', 'ftp://x'])).code, 2);
    assert.equal((await posternRun(['--config', config, 'doctor', '--outbound-probe', 'no port'])).code, 2);
    const unknown = await posternRun(['--config', config, 'doctor', 'not-hosted.example']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /not hosted/);
  });
});
