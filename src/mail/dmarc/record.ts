/** DMARC policy record syntax (RFC 7489 §6.3 tags, §6.4 ABNF), parsed to report each wrong tag. */

export interface DmarcRecord {
  tags: Map<string, string>;
  problems: string[];
}

const KNOWN = new Set(['v', 'p', 'sp', 'rua', 'ruf', 'pct', 'adkim', 'aspf', 'fo', 'rf', 'ri', 'np', 'psd', 't']);
const POLICIES = ['none', 'quarantine', 'reject'];

export function isDmarcRecord(txt: string): boolean {
  return /^v\s*=\s*DMARC1\s*(?:;|$)/.test(txt);
}

export function parseDmarc(txt: string): DmarcRecord {
  const tags = new Map<string, string>();
  const problems: string[] = [];
  if (!isDmarcRecord(txt)) problems.push(`the record must start with "v=DMARC1;" (found "${txt.slice(0, 20)}")`);
  for (const part of txt.split(';')) {
    if (part.trim() === '') continue;
    const m = /^\s*([A-Za-z]+)\s*=\s*(.*?)\s*$/.exec(part);
    if (!m) {
      problems.push(`"${part.trim()}" is not tag=value`);
      continue;
    }
    const name = m[1]!.toLowerCase();
    if (tags.has(name)) problems.push(`tag "${name}" appears twice`);
    tags.set(name, m[2]!);
    if (!KNOWN.has(name)) problems.push(`unknown tag "${name}" (receivers ignore it)`);
  }
  const value = (t: string) => tags.get(t);
  const p = value('p');
  if (p === undefined) problems.push('the p= tag is required (p=none, p=quarantine or p=reject)');
  else if (!POLICIES.includes(p.toLowerCase())) problems.push(`p=${p} is not none, quarantine or reject`);
  const sp = value('sp');
  if (sp !== undefined && !POLICIES.includes(sp.toLowerCase()))
    problems.push(`sp=${sp} is not none, quarantine or reject`);
  const pct = value('pct');
  if (pct !== undefined && !(/^\d{1,3}$/.test(pct) && Number(pct) <= 100))
    problems.push(`pct=${pct} is not a number from 0 to 100`);
  for (const t of ['adkim', 'aspf']) {
    const v = value(t);
    if (v !== undefined && !/^[rs]$/i.test(v)) problems.push(`${t}=${v} is not r (relaxed) or s (strict)`);
  }
  for (const t of ['rua', 'ruf']) {
    const v = value(t);
    if (v === undefined) continue;
    for (const uri of v.split(','))
      if (!/^(?:mailto:[^@\s!]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|https?:\/\/\S+)(?:![0-9]+[kmgt]?)?$/i.test(uri.trim()))
        problems.push(`${t}: "${uri.trim()}" is not a mailto: URI (write ${t}=mailto:dmarc@example.com)`);
  }
  const fo = value('fo');
  if (fo !== undefined && !/^[01ds](?::[01ds])*$/i.test(fo))
    problems.push(`fo=${fo} is not a colon-separated list of 0, 1, d, s`);
  const ri = value('ri');
  if (ri !== undefined && !/^\d+$/.test(ri)) problems.push(`ri=${ri} is not a number of seconds`);
  return { tags, problems };
}

/** The report addresses of rua= and ruf= (mailto: only), lower case. */
export function reportAddresses(record: DmarcRecord): string[] {
  const out: string[] = [];
  for (const t of ['rua', 'ruf']) {
    for (const uri of (record.tags.get(t) ?? '').split(',')) {
      const m = /^\s*mailto:([^!\s]+)/i.exec(uri);
      if (m) out.push(decodeURIComponent(m[1]!).toLowerCase());
    }
  }
  return out;
}
