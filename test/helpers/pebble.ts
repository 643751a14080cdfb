/**
 * Pebble, Let's Encrypt's test ACME server (Debian package pebble), on loopback: its own HTTPS
 * certificate from a throwaway CA (trusted by Postern through [acme] ca_file), names resolved by
 * the test DNS server, challenges validated on the given HTTP and TLS ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeCert } from './certs.js';
import { freePort } from './cli.js';
import { tempDir } from './tmp.js';

export interface Pebble {
  directory: string;
  caFile: string;
  /** Pebble's issuing root, for verifying what it issued. */
  root(): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

export async function startPebble(options: {
  dnsAddress: string;
  httpPort: number;
  tlsPort: number;
  validitySeconds?: number;
  eab?: { kid: string; hmacKey: string };
}): Promise<Pebble> {
  const dir = tempDir();
  const ca = await makeCert({ commonName: 'Pebble test listener CA', isCa: true });
  const leaf = await makeCert({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], issuer: ca });
  const port = await freePort();
  const mgmt = await freePort();
  const config = path.join(dir, 'pebble.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: leaf.certFile,
        privateKey: leaf.keyFile,
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: options.eab !== undefined,
        ...(options.eab ? { externalAccountMACKeys: { [options.eab.kid]: options.eab.hmacKey } } : {}),
        ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
      },
    }),
  );
  const child: ChildProcess = spawn('pebble', ['-config', config, '-dnsserver', options.dnsAddress], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-100_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-100_000)));
  const deadline = Date.now() + 20_000;
  while (!/Listening on: 127\.0\.0\.1:\d+/.test(out) || !out.includes('ACME directory available')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`pebble did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    directory: `https://127.0.0.1:${port}/dir`,
    caFile: ca.certFile,
    output: () => out,
    root: async () => {
      const { Agent, request } = await import('node:https');
      return new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port: mgmt, path: '/roots/0', agent: new Agent({ ca: ca.cert }) }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        })
          .on('error', reject)
          .end();
      });
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
