/**
 * Writing: new, reply, reply all, forward (inline or as an attachment). Plain text or rich text (the
 * HTML goes out with a plain-text alternative), attachments by picker or drag and drop with upload
 * progress, the sender chosen among the account's identities with its signature, addresses
 * completed from those already written to, a draft saved every few seconds, send later, and undo
 * send: every message waits UNDO_SECONDS on the server (RFC 4865 HOLDFOR) and can be called back.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatBytes } from '../shared/api.js';
import { jmap, jmap1, upload } from './jmap.js';
import { t } from './i18n.js';
import { addressText, type EmailAddress, type FullEmail, type Mailbox } from './model.js';

export const UNDO_SECONDS = 10;
const DRAFT_EVERY_MS = 5_000;

export interface Identity {
  id: string;
  name: string;
  email: string;
  textSignature: string;
}

/** A message handed to the server, waiting until `sendAt` (undo until then). */
export interface Sent {
  submissionId: string;
  emailId: string;
  sendAt: number;
}

export type ComposeMode = 'new' | 'reply' | 'replyAll' | 'forward' | 'forwardAttached';

export interface Attachment {
  blobId: string;
  name: string;
  type: string;
  size: number;
}

interface Draft {
  to: string;
  cc: string;
  bcc: string;
  subject: string;
  text: string;
  html: string;
  attachments: Attachment[];
  inReplyTo: string[] | null;
  references: string[] | null;
}

const quote = (text: string) =>
  text
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');

function bodyText(e: FullEmail): string {
  return e.textBody.map((p) => (p.partId ? (e.bodyValues[p.partId]?.value ?? '') : '')).join('\n');
}

/** The draft a reply or forward starts from. */
export function startDraft(mode: ComposeMode, source: FullEmail | undefined, me: string): Draft {
  const empty: Draft = {
    to: '',
    cc: '',
    bcc: '',
    subject: '',
    text: '',
    html: '',
    attachments: [],
    inReplyTo: null,
    references: null,
  };
  if (!source || mode === 'new') return empty;
  const subject = source.subject ?? '';
  const when = new Date(source.sentAt ?? source.receivedAt).toLocaleString();
  if (mode === 'forward' || mode === 'forwardAttached') {
    const inline = mode === 'forward';
    return {
      ...empty,
      subject: /^fwd?:/i.test(subject) ? subject : `Fwd: ${subject}`,
      text: inline
        ? `\n\n-------- ${t('Forwarded message')} --------\n${t('From')}: ${addressText(source.from)}\n${t('Date')}: ${when}\n${t('Subject')}: ${subject}\n\n${bodyText(source)}`
        : '',
      attachments: inline
        ? source.attachments
            .filter((a) => a.blobId)
            .map((a) => ({ blobId: a.blobId!, name: a.name ?? 'attachment', type: a.type, size: a.size }))
        : [{ blobId: source.blobId, name: `${subject || 'message'}.eml`, type: 'message/rfc822', size: source.size }],
    };
  }
  const notMe = (a: EmailAddress) => a.email.toLowerCase() !== me.toLowerCase();
  const to = source.replyTo?.length ? source.replyTo : (source.from ?? []);
  const cc = mode === 'replyAll' ? [...(source.to ?? []), ...(source.cc ?? [])].filter(notMe) : [];
  const ids = source.messageId ?? [];
  return {
    ...empty,
    to: addressText(to),
    cc: addressText(cc),
    subject: /^re:/i.test(subject) ? subject : `Re: ${subject}`,
    text: `\n\n${t('On')} ${when}, ${addressText(source.from)} ${t('wrote')}:\n${quote(bodyText(source).trimEnd())}`,
    inReplyTo: ids.length ? ids : null,
    references: ids.length ? [...(source.references ?? []), ...ids] : null,
  };
}

/** "Ann <ann@example.com>, bob@example.com" as JMAP addresses. */
export function parseAddresses(text: string): EmailAddress[] {
  return text
    .split(/[,;\n]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(.*)<([^<>]+)>$/.exec(s);
      return m ? { name: m[1]!.trim().replace(/^"|"$/g, '') || null, email: m[2]!.trim() } : { name: null, email: s };
    });
}

/** The email as JMAP creates it (RFC 8621 §4.6): plain text, or HTML with a plain-text alternative, and attachments. */
function emailObject(d: Draft, from: Identity, mailboxId: string, rich: boolean): Record<string, unknown> {
  return {
    mailboxIds: { [mailboxId]: true },
    keywords: { $draft: true, $seen: true },
    from: [{ name: from.name || null, email: from.email }],
    to: parseAddresses(d.to),
    cc: parseAddresses(d.cc),
    bcc: parseAddresses(d.bcc),
    subject: d.subject,
    inReplyTo: d.inReplyTo,
    references: d.references,
    textBody: [{ partId: 't', type: 'text/plain' }],
    ...(rich ? { htmlBody: [{ partId: 'h', type: 'text/html' }] } : {}),
    attachments: d.attachments.map((a) => ({
      blobId: a.blobId,
      type: a.type,
      name: a.name,
      disposition: 'attachment',
    })),
    bodyValues: { t: { value: d.text }, ...(rich ? { h: { value: d.html } } : {}) },
  };
}

export function Compose(props: {
  mode: ComposeMode;
  source: FullEmail | undefined;
  me: string;
  identities: Identity[];
  mailboxes: Mailbox[];
  knownAddresses: string[];
  onDone: (sent: Sent | undefined) => void;
}) {
  const [draft, setDraft] = useState(() => startDraft(props.mode, props.source, props.me));
  const [identityId, setIdentityId] = useState(props.identities[0]?.id ?? '');
  const [rich, setRich] = useState(false);
  const [later, setLater] = useState('');
  const [uploads, setUploads] = useState<{ name: string; share: number }[]>([]);
  const [error, setError] = useState('');
  const [savedAt, setSavedAt] = useState<Date | undefined>();
  const editor = useRef<HTMLDivElement>(null);
  const draftId = useRef<string | undefined>(undefined);
  const dirty = useRef(false);
  const drafts = props.mailboxes.find((m) => m.role === 'drafts');
  const sent = props.mailboxes.find((m) => m.role === 'sent');
  const identity = props.identities.find((i) => i.id === identityId) ?? props.identities[0];

  const change = (patch: Partial<Draft>) => {
    dirty.current = true;
    setDraft((d) => ({ ...d, ...patch }));
  };
  const current = (): Draft =>
    rich && editor.current ? { ...draft, html: editor.current.innerHTML, text: editor.current.innerText } : draft;

  /** Replaces the saved draft with the current one (JMAP emails do not change: a new one, the old destroyed). */
  const saveDraft = async () => {
    if (!drafts || !identity || !dirty.current) return;
    dirty.current = false;
    const old = draftId.current;
    const r = await jmap1<{ created?: Record<string, { id: string }> }>('Email/set', {
      create: { d: emailObject(current(), identity, drafts.id, rich) },
      ...(old ? { destroy: [old] } : {}),
    });
    draftId.current = r.created?.['d']?.id ?? old;
    setSavedAt(new Date());
  };
  useEffect(() => {
    const timer = setInterval(() => void saveDraft().catch(() => undefined), DRAFT_EVERY_MS);
    return () => clearInterval(timer);
  });
  useEffect(() => {
    if (identity?.textSignature && props.mode === 'new') change({ text: `\n\n-- \n${identity.textSignature}` });
  }, []);

  const attach = (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      setUploads((u) => [...u, { name: file.name, share: 0 }]);
      upload(file, (share) => setUploads((u) => u.map((x) => (x.name === file.name ? { ...x, share } : x)))).then(
        (blob) => {
          setUploads((u) => u.filter((x) => x.name !== file.name));
          const added = { blobId: blob.blobId, name: file.name, type: blob.type, size: blob.size };
          dirty.current = true;
          setDraft((d) => ({ ...d, attachments: [...d.attachments, added] }));
        },
        (err: unknown) => {
          setUploads((u) => u.filter((x) => x.name !== file.name));
          setError(err instanceof Error ? err.message : String(err));
        },
      );
    }
  };

  const send = async (e: Event) => {
    e.preventDefault();
    setError('');
    if (!identity || !drafts) return setError(t('This account has no identity or Drafts folder.'));
    const d = current();
    const rcpt = [...parseAddresses(d.to), ...parseAddresses(d.cc), ...parseAddresses(d.bcc)];
    if (rcpt.length === 0) return setError(t('Add a recipient.'));
    const at = later ? new Date(later).getTime() : Date.now() + UNDO_SECONDS * 1000;
    const holdFor = Math.max(1, Math.round((at - Date.now()) / 1000));
    const after: Record<string, unknown> = { [`mailboxIds/${drafts.id}`]: null, 'keywords/$draft': null };
    if (sent) after[`mailboxIds/${sent.id}`] = true;
    try {
      const r = await jmap([
        [
          'Email/set',
          {
            create: { m: emailObject(d, identity, drafts.id, rich) },
            ...(draftId.current ? { destroy: [draftId.current] } : {}),
          },
          'e',
        ],
        [
          'EmailSubmission/set',
          {
            create: {
              s: {
                identityId: identity.id,
                emailId: '#m',
                envelope: {
                  mailFrom: { email: identity.email, parameters: { HOLDFOR: String(holdFor) } },
                  rcptTo: rcpt.map((a) => ({ email: a.email, parameters: null })),
                },
              },
            },
            onSuccessUpdateEmail: { '#s': after },
          },
          's',
        ],
      ]);
      const made = (r.get('s')?.['created'] as Record<string, { id: string }> | undefined)?.['s'];
      const email = (r.get('e')?.['created'] as Record<string, { id: string }> | undefined)?.['m'];
      const refused = Object.values(
        (r.get('s')?.['notCreated'] as Record<string, { description?: string }> | undefined) ?? {},
      )[0];
      const notMade = Object.values(
        (r.get('e')?.['notCreated'] as Record<string, { description?: string }> | undefined) ?? {},
      )[0];
      if (!made || !email)
        throw new Error(refused?.description ?? notMade?.description ?? t('The message was not sent.'));
      props.onDone({ submissionId: made.id, emailId: email.id, sendAt: at });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const field = (name: 'to' | 'cc' | 'bcc' | 'subject', label: string) => (
    <div class="field">
      <label for={`c-${name}`}>{label}</label>
      <input
        id={`c-${name}`}
        name={name}
        value={draft[name]}
        list={name === 'subject' ? undefined : 'known-addresses'}
        autoComplete="off"
        onInput={(e) => change({ [name]: (e.target as HTMLInputElement).value })}
      />
    </div>
  );
  return (
    <form
      class="compose"
      aria-label={t('Write a message')}
      onSubmit={(e) => void send(e)}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        if (e.dataTransfer?.files.length) attach(e.dataTransfer.files);
      }}
    >
      <datalist id="known-addresses">
        {props.knownAddresses.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <div class="field">
        <label for="c-from">{t('From')}</label>
        <select id="c-from" value={identityId} onChange={(e) => setIdentityId((e.target as HTMLSelectElement).value)}>
          {props.identities.map((i) => (
            <option key={i.id} value={i.id}>
              {i.name ? `${i.name} <${i.email}>` : i.email}
            </option>
          ))}
        </select>
      </div>
      {field('to', t('To'))}
      {field('cc', t('Cc'))}
      {field('bcc', t('Bcc'))}
      {field('subject', t('Subject'))}
      <div class="toolbar" role="toolbar" aria-label={t('Format')}>
        <label class="check">
          <input type="checkbox" checked={rich} onChange={() => setRich(!rich)} /> {t('Rich text')}
        </label>
        {rich
          ? (['bold', 'italic', 'insertUnorderedList'] as const).map((cmd) => (
              <button key={cmd} type="button" class="secondary" onClick={() => document.execCommand(cmd)}>
                {t(cmd === 'bold' ? 'Bold' : cmd === 'italic' ? 'Italic' : 'List')}
              </button>
            ))
          : null}
      </div>
      {rich ? (
        <div
          ref={editor}
          class="editor"
          contentEditable
          role="textbox"
          aria-multiline="true"
          aria-label={t('Message')}
          onInput={() => (dirty.current = true)}
        >
          {draft.text}
        </div>
      ) : (
        <textarea
          name="body"
          aria-label={t('Message')}
          rows={14}
          value={draft.text}
          onInput={(e) => change({ text: (e.target as HTMLTextAreaElement).value })}
        />
      )}
      <div class="attach">
        <label class="button secondary">
          {t('Attach files')}
          <input
            type="file"
            multiple
            class="sr-only"
            onChange={(e) => {
              const input = e.target as HTMLInputElement;
              if (input.files) attach(input.files);
              input.value = '';
            }}
          />
        </label>
        <ul>
          {draft.attachments.map((a) => (
            <li key={a.blobId}>
              {a.name} <small>{formatBytes(a.size)}</small>{' '}
              <button
                type="button"
                class="link"
                onClick={() => change({ attachments: draft.attachments.filter((x) => x !== a) })}
              >
                {t('Remove')}
              </button>
            </li>
          ))}
          {uploads.map((u) => (
            <li key={u.name}>
              {u.name} <progress max={1} value={u.share} aria-label={`${t('Uploading')} ${u.name}`} />
            </li>
          ))}
        </ul>
      </div>
      <div class="send-row">
        <button type="submit" disabled={uploads.length > 0}>
          {later ? t('Send later') : t('Send')}
        </button>
        <label>
          {t('Send at')}{' '}
          <input type="datetime-local" value={later} onInput={(e) => setLater((e.target as HTMLInputElement).value)} />
        </label>
        <button type="button" class="secondary" onClick={() => void saveDraft().then(() => props.onDone(undefined))}>
          {t('Save draft and close')}
        </button>
        {savedAt ? (
          <small>
            {t('Draft saved')} {savedAt.toLocaleTimeString()}
          </small>
        ) : null}
      </div>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}

/**
 * Calls a waiting message back (RFC 8621 §7.5: undoStatus "canceled") and puts it back in Drafts;
 * false when it has already left.
 */
export async function undoSend(sent: Sent, drafts: Mailbox | undefined): Promise<boolean> {
  const r = await jmap1<{ updated?: Record<string, unknown> }>('EmailSubmission/set', {
    update: { [sent.submissionId]: { undoStatus: 'canceled' } },
  });
  if (!r.updated || !(sent.submissionId in r.updated)) return false;
  if (drafts)
    await jmap1('Email/set', {
      update: { [sent.emailId]: { mailboxIds: { [drafts.id]: true }, 'keywords/$draft': true } },
    });
  return true;
}
