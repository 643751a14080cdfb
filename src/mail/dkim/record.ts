/** The DKIM key record (RFC 6376 §3.6.1; ed25519 keys per RFC 8463). */
export function dkimTxtValue(key: { algorithm: string; publicKey: string }): string {
  return `v=DKIM1; k=${key.algorithm === 'ed25519' ? 'ed25519' : 'rsa'}; p=${key.publicKey}`;
}

export interface DkimKeyRecordParse {
  tags: Map<string, string>;
  /** p= with the white space removed; '' for a revoked key. */
  publicKey: string | undefined;
  keyType: string;
  problems: string[];
}

/** A DKIM key record (RFC 6376 §3.6.1, tag-list §3.2), parsed to name each defect rather than reject it. */
export function parseDkimKeyRecord(txt: string): DkimKeyRecordParse {
  const tags = new Map<string, string>();
  const problems: string[] = [];
  if (/["\\]/.test(txt))
    problems.push(
      'the record contains quote or backslash characters: the DNS panel stored the quotes as part of the text',
    );
  const parts = txt.split(';');
  parts.forEach((part, i) => {
    if (part.trim() === '') {
      if (i > 0 && i < parts.length - 1) problems.push('an empty tag (";;"): a stray semicolon');
      return;
    }
    const m = /^\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*([\s\S]*?)\s*$/.exec(part);
    if (!m) {
      problems.push(`"${part.trim().slice(0, 40)}" is not tag=value (a stray semicolon splits a value?)`);
      return;
    }
    const name = m[1]!.toLowerCase();
    if (tags.has(name)) problems.push(`tag "${name}" appears twice`);
    tags.set(name, m[2]!);
  });
  const v = tags.get('v');
  if (v !== undefined && (v !== 'DKIM1' || !/^\s*v\s*=/.test(txt)))
    problems.push(v !== 'DKIM1' ? `v=${v} is not DKIM1` : 'v=DKIM1 must be the first tag');
  const keyType = (tags.get('k') ?? 'rsa').toLowerCase();
  if (keyType !== 'rsa' && keyType !== 'ed25519') problems.push(`k=${keyType} is not rsa or ed25519`);
  const p = tags.get('p');
  let publicKey: string | undefined;
  if (p === undefined) problems.push('the p= tag (the public key) is missing');
  else {
    publicKey = p.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(publicKey)) problems.push('p= holds characters that are not base64');
  }
  return { tags, publicKey, keyType, problems };
}
