/**
 * The folder list: each folder with its unread count, special folders first; messages dragged from
 * the list are dropped onto a folder to move them; folders are made, renamed and removed here (the
 * special ones are kept).
 */
import { useState } from 'preact/hooks';
import { jmap1 } from './jmap.js';
import { t } from './i18n.js';
import type { Mailbox } from './model.js';

const ROLE_NAMES: Record<string, string> = {
  inbox: 'Inbox',
  drafts: 'Drafts',
  sent: 'Sent',
  archive: 'Archive',
  junk: 'Junk',
  trash: 'Trash',
};

export function folderName(m: Mailbox): string {
  return m.role && ROLE_NAMES[m.role] ? t(ROLE_NAMES[m.role]!) : m.name;
}

async function setMailbox(kind: 'create' | 'update' | 'destroy', id: string, value?: Record<string, unknown>) {
  const args =
    kind === 'create'
      ? { create: { new: value } }
      : kind === 'update'
        ? { update: { [id]: value } }
        : { destroy: [id], onDestroyRemoveEmails: false };
  const r = await jmap1<Record<string, Record<string, { description?: string; type?: string }> | undefined>>(
    'Mailbox/set',
    args,
  );
  const failed = Object.values(
    r[kind === 'create' ? 'notCreated' : kind === 'update' ? 'notUpdated' : 'notDestroyed'] ?? {},
  )[0];
  if (failed)
    throw new Error(
      failed.type === 'mailboxHasEmail'
        ? t('Empty the folder first.')
        : (failed.description ?? t('The change was refused.')),
    );
}

export function Folders(props: {
  mailboxes: Mailbox[];
  current: string | undefined;
  onOpen: (id: string) => void;
  onDrop: (ids: string[], to: string) => void;
  onChanged: () => void;
}) {
  const [over, setOver] = useState<string | undefined>();
  const [error, setError] = useState('');
  const run = (work: Promise<void>) =>
    work.then(
      () => {
        setError('');
        props.onChanged();
      },
      (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
    );
  const current = props.mailboxes.find((m) => m.id === props.current);
  return (
    <nav class="folders" aria-label={t('Folders')}>
      <ul>
        {props.mailboxes.map((m) => (
          <li key={m.id}>
            <a
              href={`#${encodeURIComponent(m.id)}`}
              class={`${m.id === props.current ? 'current' : ''}${over === m.id ? ' drop' : ''}`}
              aria-current={m.id === props.current ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault();
                props.onOpen(m.id);
              }}
              onDragOver={(e) => {
                if (!e.dataTransfer?.types.includes('application/x-postern-emails')) return;
                e.preventDefault();
                setOver(m.id);
              }}
              onDragLeave={() => setOver(undefined)}
              onDrop={(e) => {
                e.preventDefault();
                setOver(undefined);
                const ids = JSON.parse(e.dataTransfer?.getData('application/x-postern-emails') || '[]') as string[];
                if (ids.length) props.onDrop(ids, m.id);
              }}
            >
              <span class="name">{folderName(m)}</span>
              {m.unreadEmails > 0 ? (
                <span class="count" aria-label={`${m.unreadEmails} ${t('unread')}`}>
                  {m.unreadEmails}
                </span>
              ) : null}
            </a>
          </li>
        ))}
      </ul>
      <div class="folder-actions">
        <button
          type="button"
          class="secondary"
          onClick={() => {
            const name = prompt(t('Name of the new folder'));
            if (name?.trim()) void run(setMailbox('create', '', { name: name.trim(), parentId: null }));
          }}
        >
          {t('New folder')}
        </button>
        {current && !current.role ? (
          <>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                const name = prompt(t('New name'), current.name);
                if (name?.trim()) void run(setMailbox('update', current.id, { name: name.trim() }));
              }}
            >
              {t('Rename')}
            </button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                if (confirm(`${t('Delete the folder')} ${current.name}?`)) void run(setMailbox('destroy', current.id));
              }}
            >
              {t('Delete folder')}
            </button>
          </>
        ) : null}
      </div>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
    </nav>
  );
}
