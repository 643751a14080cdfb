/**
 * The webmail's words: English as written in the code, other languages from the catalogues below
 * (a missing entry shows the English). The language is the reader's choice in Settings, else the
 * browser's.
 */
import de from './lang/de.json';

const CATALOGUES: Record<string, Record<string, string>> = { de };

export const LANGUAGES: Record<string, string> = { en: 'English', de: 'Deutsch' };

const KEY = 'postern.mail.lang';

function chosen(): string {
  const stored = localStorage.getItem(KEY);
  if (stored && stored in LANGUAGES) return stored;
  const browser = (navigator.language || 'en').slice(0, 2).toLowerCase();
  return browser in LANGUAGES ? browser : 'en';
}

let language = chosen();
let catalogue = CATALOGUES[language] ?? {};
document.documentElement.lang = language;

export function currentLanguage(): string {
  return language;
}

export function setLanguage(code: string): void {
  if (!(code in LANGUAGES)) return;
  localStorage.setItem(KEY, code);
  language = code;
  catalogue = CATALOGUES[code] ?? {};
  document.documentElement.lang = code;
}

/** The text in the reader's language. */
export function t(english: string): string {
  return catalogue[english] ?? english;
}
