/**
 * The message list: 50 at a time, the next 50 fetched as the reader scrolls near the end (an account
 * of 100,000 messages is never loaded whole), threads or flat, unread and flagged filters, sort,
 * multi-select (checkboxes, Shift/Ctrl-click), dragging selected messages onto a folder, and keys:
 * j/k or arrows to move, Enter or o to open, x to select, s to flag, u for read/unread, # to delete.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from './i18n.js';
import { loadPage, shortName, type ListedEmail, type ListQuery } from './model.js';

export const PAGE = 50;

export interface ListState {
  emails: ListedEmail[];
  total: number;
}

/** Loads pages of the list as asked; reloads the loaded part when `version` moves on (live updates). */
export function useList(query: ListQuery, version: number): ListState & { more: () => void; error: string } {
  const [state, setState] = useState<ListState>({ emails: [], total: 0 });
  const [error, setError] = useState('');
  const loading = useRef(false);
  const key = JSON.stringify(query);
  const shown = useRef(PAGE);
  const current = useRef(key);
  useEffect(() => {
    if (current.current !== key) shown.current = PAGE;
    current.current = key;
    let live = true;
    loadPage(query, 0, shown.current).then(
      (r) => {
        if (!live) return;
        setState(r);
        setError('');
      },
      (err: unknown) => live && setError(err instanceof Error ? err.message : String(err)),
    );
    return () => {
      live = false;
    };
  }, [key, version]);
  const more = () => {
    if (loading.current || state.emails.length >= state.total) return;
    loading.current = true;
    const from = state.emails.length;
    loadPage(query, from, PAGE)
      .then((r) => {
        if (current.current !== key) return;
        shown.current = from + r.emails.length;
        setState((s) => ({ emails: [...s.emails.slice(0, from), ...r.emails], total: r.total }));
      })
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)))
      .finally(() => (loading.current = false));
  };
  return { ...state, more, error };
}

function when(iso: string): string {
  const d = new Date(iso);
  const now = new Date();
  return d.toDateString() === now.toDateString()
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString();
}

/** An attachment's mark in the list (a drawing: emoji fonts are not everywhere). */
function Paperclip() {
  return (
    <svg class="clip" viewBox="0 0 16 16" width="12" height="12" role="img" aria-label={t('Has attachment')}>
      <path
        d="M11 4v6.5a3 3 0 0 1-6 0V3.5a2 2 0 0 1 4 0V10a1 1 0 0 1-2 0V5"
        fill="none"
        stroke="currentColor"
        stroke-width="1.4"
        stroke-linecap="round"
      />
    </svg>
  );
}

export function MessageList(props: {
  list: ListState & { more: () => void; error: string };
  openId: string | undefined;
  selected: Set<string>;
  onSelect: (ids: Set<string>) => void;
  onOpen: (email: ListedEmail) => void;
  onKey: (action: 'flag' | 'read' | 'delete', ids: string[]) => void;
  showTo: boolean;
}) {
  const { list, selected } = props;
  const end = useRef<HTMLLIElement>(null);
  const [cursor, setCursor] = useState(0);
  const [anchor, setAnchor] = useState<number | undefined>();
  // The next page when the end of the list comes into view.
  useEffect(() => {
    const target = end.current;
    if (!target) return;
    const seen = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && list.more());
    seen.observe(target);
    return () => seen.disconnect();
  }, [list.emails.length, list.total]);

  const toggle = (i: number, e: MouseEvent | KeyboardEvent, only = false) => {
    const id = list.emails[i]!.id;
    const next = new Set(only ? [] : selected);
    if (e.shiftKey && anchor !== undefined) {
      const [a, b] = anchor < i ? [anchor, i] : [i, anchor];
      for (let k = a; k <= b; k++) next.add(list.emails[k]!.id);
    } else if (next.has(id)) next.delete(id);
    else next.add(id);
    setAnchor(i);
    props.onSelect(next);
  };
  const targets = () => (selected.size ? [...selected] : list.emails[cursor] ? [list.emails[cursor]!.id] : []);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.target instanceof HTMLInputElement && e.target.type !== 'checkbox') return;
    const move = (to: number) => {
      const i = Math.max(0, Math.min(list.emails.length - 1, to));
      setCursor(i);
      document.getElementById(`m-${list.emails[i]?.id ?? ''}`)?.focus();
    };
    if (e.key === 'j' || e.key === 'ArrowDown') move(cursor + 1);
    else if (e.key === 'k' || e.key === 'ArrowUp') move(cursor - 1);
    else if ((e.key === 'Enter' || e.key === 'o') && list.emails[cursor]) props.onOpen(list.emails[cursor]!);
    else if (e.key === 'x' && list.emails[cursor]) toggle(cursor, e);
    else if (e.key === 's') props.onKey('flag', targets());
    else if (e.key === 'u') props.onKey('read', targets());
    else if (e.key === '#' || e.key === 'Delete') props.onKey('delete', targets());
    else return;
    e.preventDefault();
  };
  if (list.error)
    return (
      <p class="error" role="alert">
        {list.error}
      </p>
    );
  return (
    <ul class="messages" aria-label={t('Messages')} onKeyDown={onKeyDown}>
      {list.emails.length === 0 ? <li class="empty">{t('No messages')}</li> : null}
      {list.emails.map((m, i) => {
        const unread = !m.keywords['$seen'];
        const flagged = !!m.keywords['$flagged'];
        const isSelected = selected.has(m.id);
        return (
          <li
            key={m.id}
            id={`m-${m.id}`}
            tabIndex={i === cursor ? 0 : -1}
            class={`message${unread ? ' unread' : ''}${props.openId === m.id ? ' open' : ''}${isSelected ? ' selected' : ''}`}
            draggable
            aria-current={props.openId === m.id ? 'true' : undefined}
            onDragStart={(e) => {
              const ids = isSelected ? [...selected] : [m.id];
              e.dataTransfer?.setData('application/x-postern-emails', JSON.stringify(ids));
              if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move';
            }}
            onClick={(e) => {
              setCursor(i);
              if (e.ctrlKey || e.metaKey || e.shiftKey) toggle(i, e);
              else props.onOpen(m);
            }}
          >
            <input
              type="checkbox"
              checked={isSelected}
              aria-label={`${t('Select')} ${m.subject ?? ''}`}
              onClick={(e) => {
                e.stopPropagation();
                toggle(i, e);
              }}
            />
            <span class="who">{props.showTo ? shortName(m.to) : shortName(m.from)}</span>
            <span class="subject">
              {flagged ? (
                <span class="flag" aria-label={t('Flagged')}>
                  ★{' '}
                </span>
              ) : null}
              {m.hasAttachment ? <Paperclip /> : null}
              {m.subject || t('(no subject)')}
              <span class="preview"> — {m.preview}</span>
            </span>
            <time dateTime={m.receivedAt}>{when(m.receivedAt)}</time>
          </li>
        );
      })}
      {list.emails.length < list.total ? (
        <li ref={end} class="more">
          <button type="button" class="secondary" onClick={list.more}>
            {t('More')}
          </button>
        </li>
      ) : null}
    </ul>
  );
}
