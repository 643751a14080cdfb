/** The DKIM key record (RFC 6376 §3.6.1; ed25519 keys per RFC 8463). */
export function dkimTxtValue(key: { algorithm: string; publicKey: string }): string {
  return `v=DKIM1; k=${key.algorithm === 'ed25519' ? 'ed25519' : 'rsa'}; p=${key.publicKey}`;
}
