/**
 * Search: the quick box (the server's full-text index over headers and bodies) and the advanced form
 * — from, to, subject, body, a date range, with attachments, in one folder or all — as one JMAP
 * FilterCondition (RFC 8621 §4.4.1).
 */
import { useState } from 'preact/hooks';
import { folderName } from './folders.js';
import { t } from './i18n.js';
import type { Mailbox } from './model.js';

export interface Search {
  filter: Record<string, unknown>;
  /** The folder searched; undefined: all of them. */
  mailboxId: string | undefined;
  label: string;
}

export function QuickSearch({ onSearch }: { onSearch: (s: Search | undefined) => void }) {
  const [text, setText] = useState('');
  return (
    <form
      role="search"
      class="quick-search"
      onSubmit={(e) => {
        e.preventDefault();
        const q = text.trim();
        onSearch(q ? { filter: { text: q }, mailboxId: undefined, label: q } : undefined);
      }}
    >
      <label for="q" class="sr-only">
        {t('Search mail')}
      </label>
      <input
        id="q"
        type="search"
        placeholder={t('Search mail')}
        value={text}
        onInput={(e) => setText((e.target as HTMLInputElement).value)}
      />
      <button type="submit" class="secondary">
        {t('Search')}
      </button>
    </form>
  );
}

const FIELDS = ['from', 'to', 'subject', 'body'] as const;
const LABELS: Record<(typeof FIELDS)[number], string> = { from: 'From', to: 'To', subject: 'Subject', body: 'Body' };

export function AdvancedSearch(props: { mailboxes: Mailbox[]; onSearch: (s: Search) => void; onClose: () => void }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [attachment, setAttachment] = useState(false);
  const [folder, setFolder] = useState('');
  const set = (k: string, v: string) => setValues({ ...values, [k]: v });
  const submit = (e: Event) => {
    e.preventDefault();
    const filter: Record<string, unknown> = {};
    for (const f of FIELDS) if (values[f]?.trim()) filter[f] = values[f]!.trim();
    if (values['after'])
      filter['after'] = new Date(`${values['after']}T00:00:00`).toISOString().replace(/\.\d+Z$/, 'Z');
    if (values['before'])
      filter['before'] = new Date(`${values['before']}T23:59:59`).toISOString().replace(/\.\d+Z$/, 'Z');
    if (attachment) filter['hasAttachment'] = true;
    const label = Object.entries(filter)
      .map(([k, v]) => `${k}: ${String(v)}`)
      .join(', ');
    props.onSearch({ filter, mailboxId: folder || undefined, label: label || t('everything') });
  };
  return (
    <form class="advanced-search card" aria-label={t('Advanced search')} onSubmit={submit}>
      {FIELDS.map((f) => (
        <div class="field" key={f}>
          <label for={`as-${f}`}>{t(LABELS[f])}</label>
          <input id={`as-${f}`} value={values[f] ?? ''} onInput={(e) => set(f, (e.target as HTMLInputElement).value)} />
        </div>
      ))}
      <div class="field">
        <label for="as-after">{t('From date')}</label>
        <input
          id="as-after"
          type="date"
          value={values['after'] ?? ''}
          onInput={(e) => set('after', (e.target as HTMLInputElement).value)}
        />
      </div>
      <div class="field">
        <label for="as-before">{t('To date')}</label>
        <input
          id="as-before"
          type="date"
          value={values['before'] ?? ''}
          onInput={(e) => set('before', (e.target as HTMLInputElement).value)}
        />
      </div>
      <div class="field">
        <label for="as-folder">{t('Folder')}</label>
        <select id="as-folder" value={folder} onChange={(e) => setFolder((e.target as HTMLSelectElement).value)}>
          <option value="">{t('All folders')}</option>
          {props.mailboxes.map((m) => (
            <option key={m.id} value={m.id}>
              {folderName(m)}
            </option>
          ))}
        </select>
      </div>
      <label class="check">
        <input type="checkbox" checked={attachment} onChange={() => setAttachment(!attachment)} /> {t('Has attachment')}
      </label>
      <div class="row">
        <button type="submit">{t('Search')}</button>
        <button type="button" class="secondary" onClick={props.onClose}>
          {t('Close')}
        </button>
      </div>
    </form>
  );
}
