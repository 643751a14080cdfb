/**
 * Hidden text in HTML: words a reader never sees but a filter reads — in elements styled
 * display:none, visibility:hidden or font-size:0, or written in the colour of their background.
 * Spam hides innocent text there to dilute what the filter sees. The scan moves forward only, tag by
 * tag with indexOf, and keeps a bounded stack of open elements: a hostile part costs linear time.
 */

/** Letters and digits found hidden, by the way they were hidden. */
export interface HiddenText {
  /** In display:none, visibility:hidden or font-size:0 elements. */
  invisible: number;
  /** In elements whose text colour equals their background colour. */
  sameColor: number;
}

interface Open {
  tag: string;
  hidden: boolean;
  color: string | undefined;
  background: string | undefined;
}

const MAX_DEPTH = 256;
const VOID = new Set(['br', 'img', 'hr', 'meta', 'link', 'input', 'area', 'base', 'col', 'wbr', 'source', 'track']);
const SKIPPED = new Set(['script', 'style', 'head', 'title']);

export function hiddenText(html: string): HiddenText {
  const found: HiddenText = { invisible: 0, sameColor: 0 };
  const stack: Open[] = [{ tag: '', hidden: false, color: undefined, background: undefined }];
  const lower = html.toLowerCase();
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    count(html, i, lt < 0 ? html.length : lt, stack[stack.length - 1]!, found);
    if (lt < 0) break;
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break;
    const tag = html.slice(lt + 1, Math.min(gt, lt + 2048));
    i = gt + 1;
    if (tag.startsWith('!') || tag.startsWith('?')) continue;
    const name = /^\/?\s*([a-zA-Z][a-zA-Z0-9]{0,15})/.exec(tag)?.[1]?.toLowerCase();
    if (!name) continue;
    if (tag.startsWith('/')) {
      close(stack, name);
      continue;
    }
    if (SKIPPED.has(name)) {
      const end = lower.indexOf(`</${name}`, i);
      i = end < 0 ? html.length : end;
      continue;
    }
    if (VOID.has(name) || tag.endsWith('/')) continue;
    if (stack.length < MAX_DEPTH) stack.push(open(name, tag, stack[stack.length - 1]!));
  }
  return found;
}

/** The element's state: what it inherits from its parent, overridden by its own attributes. */
function open(name: string, tag: string, parent: Open): Open {
  const style = attribute(tag, 'style')?.toLowerCase() ?? '';
  const decl = declarations(style);
  const display = decl.get('display');
  const visibility = decl.get('visibility');
  const size = decl.get('font-size');
  const hidden =
    parent.hidden ||
    display === 'none' ||
    visibility === 'hidden' ||
    (size !== undefined && /^0+(\.0*)?(px|pt|em|rem|%)?$/.test(size)) ||
    (name === 'font' && attribute(tag, 'size') === '0');
  const color = colorOf(decl.get('color') ?? (name === 'font' ? attribute(tag, 'color') : undefined));
  // A background image, or a colour not read here, makes the background unknown: text on it is not judged.
  const image = decl.has('background-image') || attribute(tag, 'background') !== undefined;
  const background = image
    ? UNKNOWN
    : colorOf(decl.get('background-color') ?? decl.get('background') ?? attribute(tag, 'bgcolor'));
  return { tag: name, hidden, color: color ?? parent.color, background: background ?? parent.background };
}

/** Closes the innermost open element of that name and all inside it; a stray end tag changes nothing. */
function close(stack: Open[], name: string): void {
  for (let j = stack.length - 1; j > 0; j--) {
    if (stack[j]!.tag === name) {
      stack.length = j;
      return;
    }
  }
}

function count(html: string, from: number, to: number, state: Open, found: HiddenText): void {
  if (from >= to) return;
  const invisible = state.hidden;
  const same = state.color !== undefined && state.color !== UNKNOWN && state.color === state.background;
  if (!invisible && !same) return;
  let letters = 0;
  for (let k = from; k < to; k++) {
    const c = html.charCodeAt(k);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c > 0xbf) letters++;
  }
  if (invisible) found.invisible += letters;
  else found.sameColor += letters;
}

/** An attribute's value in a start tag (quoted or bare); the first occurrence. */
export function attribute(tag: string, name: string): string | undefined {
  const lower = tag.toLowerCase();
  let at = 0;
  while ((at = lower.indexOf(name, at)) >= 0) {
    const before = lower[at - 1];
    at += name.length;
    if (before !== undefined && !/[\s"'/]/.test(before)) continue;
    let k = at;
    while (lower[k] === ' ' || lower[k] === '\t' || lower[k] === '\n' || lower[k] === '\r') k++;
    if (lower[k] !== '=') continue;
    k++;
    while (lower[k] === ' ' || lower[k] === '\t' || lower[k] === '\n' || lower[k] === '\r') k++;
    const quote = tag[k];
    if (quote === '"' || quote === "'") {
      const end = tag.indexOf(quote, k + 1);
      return tag.slice(k + 1, end < 0 ? tag.length : end);
    }
    const end = tag.slice(k).search(/[\s>]/);
    return tag.slice(k, end < 0 ? tag.length : k + end);
  }
  return undefined;
}

/** CSS declarations of a style attribute, property → value (the last wins, !important dropped). */
function declarations(style: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of style.split(';')) {
    const colon = part.indexOf(':');
    if (colon < 0) continue;
    const value = part
      .slice(colon + 1)
      .replace(/!\s*important/, '')
      .trim();
    out.set(part.slice(0, colon).trim(), value);
  }
  return out;
}

const NAMED: Record<string, string> = { white: '#ffffff', black: '#000000' };
/** A colour that was set but could not be read (a name, a gradient, an image). */
const UNKNOWN = '?';

/** A declared colour: normalized, UNKNOWN when set in a form not read here, undefined when not set. */
function colorOf(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return normalizeColor(value) ?? UNKNOWN;
}

/** A colour as #rrggbb when it is one of the simple forms (#rgb, #rrggbb, rgb(r,g,b), white, black). */
export function normalizeColor(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const v = value.trim().toLowerCase();
  if (NAMED[v]) return NAMED[v];
  let m = /^#([0-9a-f]{3})$/.exec(v);
  if (m) return `#${[...m[1]!].map((c) => c + c).join('')}`;
  m = /^#([0-9a-f]{6})$/.exec(v);
  if (m) return v;
  m = /^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$/.exec(v);
  if (m)
    return `#${m
      .slice(1, 4)
      .map((n) => Math.min(255, Number(n)).toString(16).padStart(2, '0'))
      .join('')}`;
  return undefined;
}
