/**
 * Mail HTML made safe to show: DOMPurify (HTML profile: no SVG, no MathML) drops scripts, event
 * handlers, javascript: and data: links, forms, frames, objects, <meta>, <link> and <base>; on top of
 * it, remote images wait for the reader (per message or per sender), one-pixel trackers are dropped,
 * CSS loses @import, @font-face, expression() and (until images are allowed) remote url()s,
 * embedded cid: images point at the message's own parts, and links open in a new tab without a
 * referrer. The result is shown in a sandboxed frame (no script) whose own Content-Security-Policy
 * refuses every load but inline styles, this server's parts and — only when allowed — https images,
 * so CSS url()s, fonts and anything DOMPurify let through still load nothing.
 */
import DOMPurify from 'dompurify';

export interface Sanitized {
  /** The document for the frame's srcdoc. */
  html: string;
  /** Remote images held back. */
  blockedImages: number;
}

const FORBID_TAGS = [
  'form',
  'input',
  'button',
  'select',
  'textarea',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'meta',
  'link',
  'base',
  'portal',
  'audio',
  'video',
  'source',
  'track',
];
const FORBID_ATTR = [
  'srcset',
  'background',
  'ping',
  'action',
  'formaction',
  'poster',
  'lowsrc',
  'dynsrc',
  'xlink:href',
];

/**
 * CSS with nothing in it that loads: @import and @font-face dropped, IE's expression() and behaviors,
 * and — unless remote images are allowed — every url() that leaves the message.
 */
export function scrubCss(css: string, allowRemote: boolean): string {
  let out = css
    .replace(/@import[^;]*;?/gi, '')
    .replace(/@font-face\s*\{[^}]*\}/gi, '')
    .replace(/expression\s*\(/gi, 'blocked(')
    .replace(/(?:behavior|-moz-binding)\s*:[^;}]*/gi, '');
  if (!allowRemote) out = out.replace(/url\(\s*(['"]?)\s*(?:https?:)?\/\/[^)]*\)/gi, 'none');
  return out;
}

const isRemote = (url: string) => /^\s*(?:https?:)?\/\//i.test(url);

/** An image one pixel or so large, or hidden: a tracker. */
function isTracker(img: Element): boolean {
  const small = (v: string | null) => v !== null && /^\s*[0-2](?:px)?\s*$/i.test(v);
  const style = (img.getAttribute('style') ?? '').toLowerCase().replace(/\s/g, '');
  return (
    (small(img.getAttribute('width')) && small(img.getAttribute('height'))) ||
    /display:none|visibility:hidden|(?:^|;)(?:width|height):[0-2]px/.test(style)
  );
}

export function sanitize(
  html: string,
  options: { allowRemote: boolean; cid: (id: string) => string | undefined },
): Sanitized {
  let blockedImages = 0;
  const purify = DOMPurify(window);
  purify.addHook('uponSanitizeElement', (node) => {
    if (node.nodeName === 'STYLE' && node.textContent)
      node.textContent = scrubCss(node.textContent, options.allowRemote);
  });
  purify.addHook('afterSanitizeAttributes', (node) => {
    const style = node.getAttribute('style');
    if (style) node.setAttribute('style', scrubCss(style, options.allowRemote));
    if (node.nodeName === 'A') {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
    if (node.nodeName !== 'IMG') return;
    const src = node.getAttribute('src') ?? '';
    if (/^cid:/i.test(src)) {
      const local = options.cid(src.slice(4).replace(/^<|>$/g, ''));
      if (local) node.setAttribute('src', local);
      else node.removeAttribute('src');
    } else if (isRemote(src)) {
      if (isTracker(node)) {
        node.remove();
        return;
      }
      if (!options.allowRemote) {
        blockedImages++;
        node.removeAttribute('src');
        node.setAttribute('data-blocked', '');
        const alt = node.getAttribute('alt');
        node.setAttribute('alt', alt ? `[image: ${alt}]` : '[image]');
      } else node.setAttribute('referrerpolicy', 'no-referrer');
    }
  });
  const body = purify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS,
    FORBID_ATTR,
    WHOLE_DOCUMENT: false,
    ALLOW_DATA_ATTR: false,
    // <style> in a mail's body styles its layout; the frame's policy keeps its url()s from loading.
    ADD_TAGS: ['style'],
    FORCE_BODY: true,
  });
  purify.removeAllHooks();
  const images = options.allowRemote ? "'self' data: blob: https:" : "'self' data: blob:";
  const policy = `default-src 'none'; style-src 'unsafe-inline'; img-src ${images}; font-src 'none'; form-action 'none'`;
  const frame =
    '<!doctype html><html><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${policy}">` +
    '<meta name="referrer" content="no-referrer">' +
    '<style>body{margin:0;padding:8px;font-family:system-ui,sans-serif;overflow-wrap:anywhere}img{max-width:100%;height:auto}img[data-blocked]{display:inline-block;border:1px dashed #999;padding:2px;color:#555;font-size:12px}</style>' +
    `</head><body>${body}</body></html>`;
  return { html: frame, blockedImages };
}
