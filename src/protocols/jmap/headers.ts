/**
 * `header:{name}[:as{Form}][:all]` properties (RFC 8621 §4.1.2, §4.1.3): the named header field's
 * last instance (or all of them) parsed as Raw, Text, Addresses, GroupedAddresses, MessageIds, Date
 * or URLs.
 */
import addressparser, { type ParsedAddress } from 'nodemailer/lib/addressparser';
import type { HeaderField } from '../../mail/mime/headers.js';
import { decodeWords } from '../../mail/mime/text.js';
import { invalid } from './args.js';

const FORMS = ['Raw', 'Text', 'Addresses', 'GroupedAddresses', 'MessageIds', 'Date', 'URLs'] as const;
type Form = (typeof FORMS)[number];

export function headerProperty(headers: HeaderField[], property: string): unknown {
  const { name, form, all } = parseProperty(property);
  const values = headers.filter((f) => f.key === name).map((f) => f.value);
  const parse = (v: string) => parseForm(v, form);
  if (all) return values.map(parse);
  const last = values.at(-1);
  return last === undefined ? null : parse(last);
}

export function parseProperty(property: string): { name: string; form: Form; all: boolean } {
  const parts = property.split(':');
  if (parts[0] !== 'header' || !parts[1] || parts.length > 4)
    throw invalid(`bad header property ${property.slice(0, 80)}`);
  let all = false;
  if (parts.at(-1) === 'all') {
    all = true;
    parts.pop();
  }
  const form = parts[2] ? parts[2].replace(/^as/, '') : 'Raw';
  if (!(FORMS as readonly string[]).includes(form) || (parts[2] && !parts[2].startsWith('as')) || parts.length > 3)
    throw invalid(`bad header property ${property.slice(0, 80)}`);
  return { name: parts[1].toLowerCase(), form: form as Form, all };
}

function parseForm(value: string, form: Form): unknown {
  switch (form) {
    case 'Raw':
      return value;
    case 'Text':
      return decodeWords(value.replace(/\r?\n(?=[ \t])/g, '')).trim();
    case 'Addresses':
      return flatten(addressparser(value));
    case 'GroupedAddresses':
      return grouped(addressparser(value));
    case 'MessageIds':
      return msgIds(value);
    case 'Date': {
      const d = new Date(value.trim());
      return Number.isNaN(d.getTime()) ? null : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
    case 'URLs': {
      const urls = [...value.matchAll(/<([^<>\s]{1,2000})>/g)].map((m) => m[1]!);
      return urls.length ? urls : null;
    }
  }
}

function flatten(list: ParsedAddress[]): Array<{ name: string | null; email: string }> {
  return list.flatMap((a) =>
    a.group ? flatten(a.group) : [{ name: a.name ? decodeWords(a.name) : null, email: a.address ?? '' }],
  );
}

function grouped(list: ParsedAddress[]): Array<{ name: string | null; addresses: unknown[] }> {
  const out: Array<{ name: string | null; addresses: unknown[] }> = [];
  for (const a of list) {
    if (a.group) out.push({ name: a.name ? decodeWords(a.name) : null, addresses: flatten(a.group) });
    else {
      const last = out.at(-1);
      const entry = { name: a.name ? decodeWords(a.name) : null, email: a.address ?? '' };
      if (last && last.name === null) last.addresses.push(entry);
      else out.push({ name: null, addresses: [entry] });
    }
  }
  return out;
}

/** Message ids without their angle brackets (RFC 8621 §4.1.2.3 asMessageIds). */
export function msgIds(value: string | null): string[] | null {
  if (!value) return null;
  const ids = [...value.matchAll(/<([^<>\s]{1,998})>/g)].map((m) => m[1]!);
  return ids.length ? ids : null;
}
