/**
 * Postern's webmail at https://webmail.<domain>/ and https://<hostname>/mail/: sign-in, then folders,
 * the message list, reading, writing, search and settings, all on JMAP with live updates from its
 * event source. Keys: c to write, / to search, Esc to close what is open, j/k and the list's own.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { LoginForm } from '../shared/components.js';
import { Compose, undoSend, type ComposeMode, type Identity, type Sent } from './compose.js';
import { folderName, Folders } from './folders.js';
import { t } from './i18n.js';
import { jmap1, resumeSession, signIn, signOut, watch, whenSignedOut, type MailSession } from './jmap.js';
import { MessageList, useList } from './list.js';
import {
  loadMailboxes,
  loadThread,
  moveEmails,
  shortName,
  updateEmails,
  type FullEmail,
  type ListedEmail,
  type ListQuery,
  type Mailbox,
} from './model.js';
import { Reader } from './reader.js';
import { AdvancedSearch, QuickSearch, type Search } from './search.js';
import { applyTheme, Settings } from './settings.js';
import '../shared/style.css';
import './mail.css';

applyTheme();

const INBOX_KEY = 'postern.mail.inbox:';

type Pane =
  | { kind: 'none' }
  | { kind: 'read'; id: string }
  | { kind: 'compose'; mode: ComposeMode; source: FullEmail | undefined; key: number }
  | { kind: 'settings' };

function SignIn({ onSignedIn, ended }: { onSignedIn: (s: MailSession) => void; ended: boolean }) {
  return (
    <>
      {ended ? (
        <p class="notice center" role="status">
          {t('Your session has ended. Please sign in again.')}
        </p>
      ) : null}
      <LoginForm
        title={t('Sign in to your mail')}
        addressLabel={t('Mail address')}
        failedText={t('Wrong address or password.')}
        onSubmit={async ({ address, password }) => onSignedIn(await signIn(address, password))}
      />
    </>
  );
}

/** Other messages of the open one's conversation, to open in turn. */
function ThreadNav({ email, onOpen }: { email: ListedEmail | undefined; onOpen: (id: string) => void }) {
  const [others, setOthers] = useState<ListedEmail[]>([]);
  useEffect(() => {
    if (email) void loadThread(email.threadId).then(setOthers, () => setOthers([]));
  }, [email?.threadId]);
  if (!email || others.length < 2) return null;
  return (
    <nav class="thread" aria-label={t('Conversation')}>
      <ol>
        {others.map((m) => (
          <li key={m.id}>
            <button
              type="button"
              class="link"
              aria-current={m.id === email.id ? 'true' : undefined}
              onClick={() => onOpen(m.id)}
            >
              {shortName(m.from)} · {new Date(m.receivedAt).toLocaleString()}
            </button>
          </li>
        ))}
      </ol>
    </nav>
  );
}

function useAccount(version: number) {
  const [mailboxes, setMailboxes] = useState<Mailbox[]>([]);
  const [identities, setIdentities] = useState<Identity[]>([]);
  const [identityVersion, setIdentityVersion] = useState(0);
  useEffect(() => void loadMailboxes().then(setMailboxes, () => undefined), [version]);
  useEffect(
    () =>
      void jmap1<{ list: Identity[] }>('Identity/get', { ids: null }).then(
        (r) => setIdentities(r.list),
        () => undefined,
      ),
    [identityVersion],
  );
  return { mailboxes, identities, reloadIdentities: () => setIdentityVersion((v) => v + 1) };
}

/** Addresses written to lately (the Sent folder's recipients), for completion. */
function useKnownAddresses(sent: Mailbox | undefined, active: boolean): string[] {
  const [known, setKnown] = useState<string[]>([]);
  useEffect(() => {
    if (!sent || !active) return;
    void jmap1<{ ids: string[] }>('Email/query', { filter: { inMailbox: sent.id }, limit: 200 })
      .then((q) =>
        jmap1<{ list: Array<Pick<FullEmail, 'to' | 'cc'>> }>('Email/get', { ids: q.ids, properties: ['to', 'cc'] }),
      )
      .then(
        (r) => {
          const all = r.list.flatMap((e) => [...(e.to ?? []), ...(e.cc ?? [])]);
          setKnown([...new Set(all.map((a) => (a.name ? `${a.name} <${a.email}>` : a.email)))]);
        },
        () => undefined,
      );
  }, [sent?.id, active]);
  return known;
}

function Mail({ session, onSignedOut }: { session: MailSession; onSignedOut: () => void }) {
  const [version, setVersion] = useState(0);
  const { mailboxes, identities, reloadIdentities } = useAccount(version);
  const inbox = mailboxes.find((m) => m.role === 'inbox');
  const [folder, setFolder] = useState<string | undefined>();
  const [search, setSearch] = useState<Search | undefined>();
  const [advanced, setAdvanced] = useState(false);
  const [pane, setPane] = useState<Pane>({ kind: 'none' });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [options, setOptions] = useState<Omit<ListQuery, 'mailboxId' | 'filter'>>({
    threads: true,
    unreadOnly: false,
    flaggedOnly: false,
    sort: 'receivedAt',
    ascending: false,
  });
  const [sentMessage, setSentMessage] = useState<Sent | undefined>();
  const [notice, setNotice] = useState('');
  const [foldersOpen, setFoldersOpen] = useState(false);
  const [, setLanguageVersion] = useState(0);
  // The Inbox's id from the last visit lets the list load alongside the folders (ids do not change).
  const current =
    folder ??
    inbox?.id ??
    (mailboxes.length ? undefined : (localStorage.getItem(INBOX_KEY + session.address) ?? undefined));
  useEffect(() => {
    if (inbox) localStorage.setItem(INBOX_KEY + session.address, inbox.id);
  }, [inbox?.id]);
  const mailbox = mailboxes.find((m) => m.id === (search ? search.mailboxId : current));
  const query: ListQuery = { ...options, mailboxId: search ? search.mailboxId : current, filter: search?.filter };
  const list = useList(query, version);
  const byRole = (role: string) => mailboxes.find((m) => m.role === role);
  const known = useKnownAddresses(byRole('sent'), pane.kind === 'compose');

  // Live updates: a change the server announces reloads folders and list (at most every 300 ms).
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = watch(() => {
      clearTimeout(timer);
      timer = setTimeout(() => setVersion((v) => v + 1), 300);
    });
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing =
        e.target instanceof HTMLInputElement ||
        e.target instanceof HTMLTextAreaElement ||
        (e.target as HTMLElement).isContentEditable;
      if (e.key === 'Escape') setPane({ kind: 'none' });
      if (typing) return;
      if (e.key === 'c') setPane({ kind: 'compose', mode: 'new', source: undefined, key: Date.now() });
      else if (e.key === '/') document.getElementById('q')?.focus();
      else return;
      e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);

  const act = (work: Promise<unknown>, done?: string) =>
    work.then(
      () => {
        setNotice(done ?? '');
        setVersion((v) => v + 1);
      },
      (err: unknown) => setNotice(err instanceof Error ? err.message : String(err)),
    );
  const move = (ids: string[], to: Mailbox | undefined, from = mailbox?.id) => {
    if (!to) return setNotice(t('That folder does not exist.'));
    setSelected(new Set());
    if (pane.kind === 'read' && ids.includes(pane.id)) setPane({ kind: 'none' });
    void act(moveEmails(ids, from, to.id), `${t('Moved to')} ${to.name}`);
  };
  const onKey = (action: 'flag' | 'read' | 'delete', ids: string[]) => {
    const first = list.emails.find((e) => e.id === ids[0]);
    if (action === 'delete') return move(ids, byRole('trash'));
    const key = action === 'flag' ? '$flagged' : '$seen';
    void act(updateEmails(ids, { [`keywords/${key}`]: first?.keywords[key] ? null : true }));
  };
  const onAction = (action: Parameters<Parameters<typeof Reader>[0]['onAction']>[0], email: FullEmail) => {
    if (action === 'junk') return move([email.id], byRole('junk'));
    if (action === 'notJunk') return move([email.id], inbox);
    if (action === 'delete') return move([email.id], byRole('trash'));
    setPane({ kind: 'compose', mode: action, source: email, key: Date.now() });
  };
  const open = (id: string) => setPane({ kind: 'read', id });
  const openEmail = list.emails.find((e) => pane.kind === 'read' && e.id === pane.id);
  const bulk = [...selected];

  return (
    <div class={`app${pane.kind !== 'none' ? ' pane-open' : ''}`}>
      <header>
        <button
          type="button"
          class="secondary menu"
          aria-expanded={foldersOpen}
          onClick={() => setFoldersOpen(!foldersOpen)}
        >
          {t('Folders')}
        </button>
        <strong class="brand">Postern</strong>
        <QuickSearch
          onSearch={(s) => {
            setSearch(s);
            setPane({ kind: 'none' });
          }}
        />
        <button type="button" class="secondary" aria-expanded={advanced} onClick={() => setAdvanced(!advanced)}>
          {t('Advanced search')}
        </button>
        <button
          type="button"
          onClick={() => setPane({ kind: 'compose', mode: 'new', source: undefined, key: Date.now() })}
        >
          {t('Write')}
        </button>
        <button type="button" class="secondary" onClick={() => setPane({ kind: 'settings' })}>
          {t('Settings')}
        </button>
        <span class="who">{session.address}</span>
        <button type="button" class="secondary" onClick={() => void signOut(false).finally(onSignedOut)}>
          {t('Sign out')}
        </button>
      </header>
      {advanced ? (
        <AdvancedSearch
          mailboxes={mailboxes}
          onClose={() => setAdvanced(false)}
          onSearch={(s) => {
            setSearch(s);
            setAdvanced(false);
            setPane({ kind: 'none' });
          }}
        />
      ) : null}
      <div class="columns">
        <aside class={foldersOpen ? 'open' : ''}>
          <Folders
            mailboxes={mailboxes}
            current={search ? undefined : current}
            onOpen={(id) => {
              setFolder(id);
              setSearch(undefined);
              setSelected(new Set());
              setFoldersOpen(false);
              setPane({ kind: 'none' });
            }}
            onDrop={(ids, to) =>
              move(
                ids,
                mailboxes.find((m) => m.id === to),
              )
            }
            onChanged={() => setVersion((v) => v + 1)}
          />
        </aside>
        <main class="list-pane" aria-label={t('Message list')}>
          <div class="list-head">
            <h1>{search ? `${t('Search')}: ${search.label}` : mailbox ? folderName(mailbox) : ''}</h1>
            {search ? (
              <button type="button" class="link" onClick={() => setSearch(undefined)}>
                {t('Clear search')}
              </button>
            ) : null}
            <span class="total">
              {list.total} {list.total === 1 ? t('message') : t('messages')}
            </span>
          </div>
          <div class="list-tools" role="toolbar" aria-label={t('List options')}>
            <label class="check">
              <input
                type="checkbox"
                checked={options.threads}
                onChange={() => setOptions({ ...options, threads: !options.threads })}
              />{' '}
              {t('Threads')}
            </label>
            <label class="check">
              <input
                type="checkbox"
                checked={options.unreadOnly}
                onChange={() => setOptions({ ...options, unreadOnly: !options.unreadOnly })}
              />{' '}
              {t('Unread')}
            </label>
            <label class="check">
              <input
                type="checkbox"
                checked={options.flaggedOnly}
                onChange={() => setOptions({ ...options, flaggedOnly: !options.flaggedOnly })}
              />{' '}
              {t('Flagged')}
            </label>
            <select
              aria-label={t('Sort by')}
              value={`${options.sort}:${options.ascending ? 'asc' : 'desc'}`}
              onChange={(e) => {
                const [sort, dir] = (e.target as HTMLSelectElement).value.split(':') as [ListQuery['sort'], string];
                setOptions({ ...options, sort, ascending: dir === 'asc' });
              }}
            >
              <option value="receivedAt:desc">{t('Newest first')}</option>
              <option value="receivedAt:asc">{t('Oldest first')}</option>
              <option value="from:asc">{t('Sender')}</option>
              <option value="subject:asc">{t('Subject')}</option>
              <option value="size:desc">{t('Largest first')}</option>
            </select>
            {bulk.length ? (
              <span class="bulk">
                {bulk.length} {t('selected')}
                <button type="button" class="secondary" onClick={() => onKey('read', bulk)}>
                  {t('Read/unread')}
                </button>
                <button type="button" class="secondary" onClick={() => onKey('flag', bulk)}>
                  {t('Flag')}
                </button>
                <button type="button" class="secondary" onClick={() => move(bulk, byRole('junk'))}>
                  {t('Junk')}
                </button>
                <button type="button" class="danger" onClick={() => move(bulk, byRole('trash'))}>
                  {t('Delete')}
                </button>
              </span>
            ) : null}
          </div>
          <MessageList
            list={list}
            openId={pane.kind === 'read' ? pane.id : undefined}
            selected={selected}
            onSelect={setSelected}
            onOpen={(m) => open(m.id)}
            onKey={onKey}
            showTo={mailbox?.role === 'sent' || mailbox?.role === 'drafts'}
          />
        </main>
        <section class="pane" aria-label={t('Reading pane')}>
          {pane.kind === 'read' ? (
            <>
              <ThreadNav email={openEmail} onOpen={open} />
              <Reader
                id={pane.id}
                inJunk={mailbox?.role === 'junk'}
                onAction={onAction}
                onClose={() => setPane({ kind: 'none' })}
              />
            </>
          ) : pane.kind === 'compose' ? (
            <Compose
              key={pane.key}
              mode={pane.mode}
              source={pane.source}
              me={session.address}
              identities={identities}
              mailboxes={mailboxes}
              knownAddresses={known}
              onDone={(sent) => {
                setPane({ kind: 'none' });
                setSentMessage(sent);
                setVersion((v) => v + 1);
              }}
            />
          ) : pane.kind === 'settings' ? (
            <Settings
              session={session}
              identities={identities}
              onIdentities={reloadIdentities}
              onLanguage={() => setLanguageVersion((v) => v + 1)}
              onSignOutEverywhere={() => void signOut(true).finally(onSignedOut)}
            />
          ) : (
            <p class="muted empty-pane">{t('Choose a message to read it.')}</p>
          )}
        </section>
      </div>
      <Toast
        sent={sentMessage}
        drafts={byRole('drafts')}
        notice={notice}
        onClear={() => {
          setSentMessage(undefined);
          setNotice('');
        }}
      />
    </div>
  );
}

/** "Sending… Undo" until the message leaves, and other short notices. */
function Toast(props: { sent: Sent | undefined; drafts: Mailbox | undefined; notice: string; onClear: () => void }) {
  const [now, setNow] = useState(Date.now());
  const [undone, setUndone] = useState('');
  useEffect(() => {
    setUndone('');
    if (!props.sent) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [props.sent]);
  const waiting = props.sent && props.sent.sendAt > now ? props.sent : undefined;
  const text = undone || (waiting ? t('Sending…') : props.sent ? t('Sent.') : props.notice);
  if (!text) return null;
  return (
    <div class="toast" role="status">
      {text}{' '}
      {waiting && !undone ? (
        <button
          type="button"
          class="secondary"
          onClick={() =>
            void undoSend(waiting, props.drafts).then((ok) =>
              setUndone(ok ? t('Not sent: the message is back in Drafts.') : t('Too late: the message has left.')),
            )
          }
        >
          {t('Undo')}
        </button>
      ) : null}
      <button type="button" class="link" aria-label={t('Dismiss')} onClick={props.onClear}>
        ×
      </button>
    </div>
  );
}

function App() {
  const [session, setSession] = useState<MailSession | undefined | 'loading'>('loading');
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    whenSignedOut(() => {
      setEnded(true);
      setSession(undefined);
    });
    void resumeSession().then(setSession, () => setSession(undefined));
  }, []);
  if (session === 'loading') return null;
  if (!session)
    return (
      <SignIn
        ended={ended}
        onSignedIn={(s) => {
          setEnded(false);
          setSession(s);
        }}
      />
    );
  return <Mail session={session} onSignedOut={() => setSession(undefined)} />;
}

render(<App />, document.getElementById('app')!);
