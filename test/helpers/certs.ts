import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { selfSignedPems } from '../../src/services/tls/registry.js';

/** Writes a certbot-style live/<dir>/ pair for `names` and returns the PEMs. */
export async function writeCertbotCert(
  certbotDir: string,
  dir: string,
  names: string[],
  options: { notAfter?: Date } = {},
): Promise<{ key: string; cert: string }> {
  const pems = await selfSignedPems(names, options);
  const live = path.join(certbotDir, 'live', dir);
  mkdirSync(live, { recursive: true });
  writeFileSync(path.join(live, 'privkey.pem'), pems.key);
  writeFileSync(path.join(live, 'fullchain.pem'), pems.cert);
  return pems;
}

export interface TestCert {
  key: string;
  cert: string;
  keyFile: string;
  certFile: string;
}

/** A CA (isCa) or a leaf signed by `issuer` (else self-signed), made with the openssl command. */
export async function makeCert(options: {
  commonName: string;
  altNames?: string[];
  isCa?: boolean;
  issuer?: TestCert;
  days?: number;
}): Promise<TestCert> {
  const { execFileSync } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const { tempDir } = await import('./tmp.js');
  const dir = tempDir();
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const days = String(options.days ?? 2);
  const ext = options.isCa
    ? ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']
    : [
        '-addext',
        `subjectAltName=${(options.altNames ?? [options.commonName]).map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}`,
      ];
  const key = [
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-subj',
    `/CN=${options.commonName}`,
    ...ext,
  ];
  if (!options.issuer) {
    execFileSync('openssl', ['req', '-x509', ...key, '-days', days, '-out', certFile], { stdio: 'pipe' });
  } else {
    const csr = path.join(dir, 'req.csr');
    execFileSync('openssl', ['req', ...key, '-out', csr], { stdio: 'pipe' });
    execFileSync(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        options.issuer.certFile,
        '-CAkey',
        options.issuer.keyFile,
        '-CAcreateserial',
        '-days',
        days,
        '-copy_extensions',
        'copy',
        '-out',
        certFile,
      ],
      { stdio: 'pipe', cwd: dir },
    );
  }
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), keyFile, certFile };
}
