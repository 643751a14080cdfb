/**
 * The reading pane: headers, the authentication and spam verdicts when a message failed them, the
 * body (plain text as text; HTML sanitised into a sandboxed frame, remote images held back until the
 * reader allows them for this message or this sender), attachments with size and type (pictures
 * previewed), and the source. Opening a message marks it read.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatBytes } from '../shared/api.js';
import { downloadUrl } from './jmap.js';
import { t } from './i18n.js';
import { addressText, loadEmail, updateEmails, type BodyPart, type FullEmail } from './model.js';
import { sanitize } from './sanitize.js';

/** Senders whose remote images are always shown (kept in this browser). */
const TRUSTED_KEY = 'postern.mail.images';

function trustedSenders(): Set<string> {
  try {
    return new Set(JSON.parse(localStorage.getItem(TRUSTED_KEY) ?? '[]') as string[]);
  } catch {
    return new Set();
  }
}

function trustSender(email: string): void {
  const all = trustedSenders();
  all.add(email.toLowerCase());
  localStorage.setItem(TRUSTED_KEY, JSON.stringify([...all].slice(-500)));
}

/** What failed of SPF, DKIM and DMARC, read from Authentication-Results (RFC 8601). */
export function authFailures(results: string | null): string[] {
  if (!results) return [];
  const out: string[] = [];
  for (const method of ['spf', 'dkim', 'dmarc']) {
    const m = new RegExp(`\\b${method}=(\\w+)`, 'i').exec(results);
    const verdict = m?.[1]?.toLowerCase();
    if (verdict && !['pass', 'none', 'neutral'].includes(verdict)) out.push(`${method.toUpperCase()} ${verdict}`);
  }
  return out;
}

function spamVerdict(status: string | null): { spam: boolean; score: string } | undefined {
  const m = status ? /^\s*(yes|no),\s*score=(-?[\d.]+)/i.exec(status) : null;
  return m ? { spam: m[1]!.toLowerCase() === 'yes', score: m[2]! } : undefined;
}

function Body({
  email,
  allowRemote,
  onBlocked,
}: {
  email: FullEmail;
  allowRemote: boolean;
  onBlocked: (n: number) => void;
}) {
  const frame = useRef<HTMLIFrameElement>(null);
  const html = email.htmlBody.find((p) => p.type === 'text/html');
  const fit = () => {
    const doc = frame.current?.contentDocument;
    if (doc && frame.current) frame.current.style.height = `${doc.documentElement.scrollHeight + 4}px`;
  };
  const doc = html?.partId ? email.bodyValues[html.partId]?.value : undefined;
  const parts = new Map(
    [...email.attachments, ...email.htmlBody]
      .filter((p) => p.cid && p.blobId)
      .map((p) => [p.cid!.replace(/^<|>$/g, ''), downloadUrl(p.blobId!, p.name ?? 'image', p.type, true)]),
  );
  const sanitized = doc !== undefined ? sanitize(doc, { allowRemote, cid: (id) => parts.get(id) }) : undefined;
  useEffect(() => onBlocked(sanitized?.blockedImages ?? 0), [sanitized?.blockedImages]);
  if (sanitized)
    return (
      <iframe
        ref={frame}
        class="body-frame"
        title={t('Message body')}
        // No scripts ever; same origin only so that this page can size the frame to its content.
        sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
        referrerpolicy="no-referrer"
        srcDoc={sanitized.html}
        onLoad={fit}
      />
    );
  const text = email.textBody.map((p) => (p.partId ? (email.bodyValues[p.partId]?.value ?? '') : '')).join('\n');
  return <pre class="body-text">{text}</pre>;
}

function Attachments({ parts }: { parts: BodyPart[] }) {
  const shown = parts.filter((p) => p.blobId && p.disposition !== 'inline');
  if (shown.length === 0) return null;
  return (
    <section class="attachments" aria-label={t('Attachments')}>
      <h3>{t('Attachments')}</h3>
      <ul>
        {shown.map((p) => {
          const name = p.name ?? 'attachment';
          const picture = /^image\/(png|jpeg|gif|webp)$/.test(p.type);
          return (
            <li key={p.blobId}>
              {picture ? <img class="thumb" alt="" src={downloadUrl(p.blobId!, name, p.type, true)} /> : null}
              <a href={downloadUrl(p.blobId!, name, p.type)} download={name}>
                {name}
              </a>{' '}
              <small>
                {p.type}, {formatBytes(p.size)}
              </small>
              {picture || p.type === 'application/pdf' ? (
                <a
                  class="preview"
                  href={downloadUrl(p.blobId!, name, p.type, true)}
                  target="_blank"
                  rel="noopener noreferrer"
                >
                  {t('Preview')}
                </a>
              ) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export function Reader(props: {
  id: string;
  onAction: (
    action: 'reply' | 'replyAll' | 'forward' | 'forwardAttached' | 'junk' | 'notJunk' | 'delete',
    email: FullEmail,
  ) => void;
  onClose: () => void;
  inJunk: boolean;
}) {
  const [email, setEmail] = useState<FullEmail | undefined>();
  const [error, setError] = useState('');
  const [allowOnce, setAllowOnce] = useState(false);
  const [blocked, setBlocked] = useState(0);
  const [showHeaders, setShowHeaders] = useState(false);
  useEffect(() => {
    let live = true;
    setEmail(undefined);
    setAllowOnce(false);
    setError('');
    loadEmail(props.id).then(
      (e) => {
        if (!live) return;
        setEmail(e);
        if (e && !e.keywords['$seen']) void updateEmails([e.id], { 'keywords/$seen': true });
      },
      (err: unknown) => live && setError(err instanceof Error ? err.message : String(err)),
    );
    return () => {
      live = false;
    };
  }, [props.id]);
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (!email) return <p class="muted">{t('Loading…')}</p>;
  const sender = email.from?.[0]?.email ?? '';
  const allowRemote = allowOnce || trustedSenders().has(sender.toLowerCase());
  const failures = authFailures(email['header:Authentication-Results:asText']);
  const spam = spamVerdict(email['header:X-Spam-Status:asText']);
  return (
    <article class="reader" aria-label={email.subject ?? t('(no subject)')}>
      <div class="reader-actions" role="toolbar" aria-label={t('Message actions')}>
        <button type="button" class="secondary back" onClick={props.onClose}>
          {t('Back')}
        </button>
        <button type="button" onClick={() => props.onAction('reply', email)}>
          {t('Reply')}
        </button>
        <button type="button" class="secondary" onClick={() => props.onAction('replyAll', email)}>
          {t('Reply all')}
        </button>
        <button type="button" class="secondary" onClick={() => props.onAction('forward', email)}>
          {t('Forward')}
        </button>
        <button type="button" class="secondary" onClick={() => props.onAction('forwardAttached', email)}>
          {t('Forward as attachment')}
        </button>
        {props.inJunk ? (
          <button type="button" class="secondary" onClick={() => props.onAction('notJunk', email)}>
            {t('Not junk')}
          </button>
        ) : (
          <button type="button" class="secondary" onClick={() => props.onAction('junk', email)}>
            {t('Junk')}
          </button>
        )}
        <button type="button" class="danger" onClick={() => props.onAction('delete', email)}>
          {t('Delete')}
        </button>
      </div>
      <h2 class="subject">{email.subject || t('(no subject)')}</h2>
      <dl class="headers">
        <dt>{t('From')}</dt>
        <dd>{addressText(email.from)}</dd>
        <dt>{t('To')}</dt>
        <dd>{addressText(email.to)}</dd>
        {email.cc?.length ? (
          <>
            <dt>{t('Cc')}</dt>
            <dd>{addressText(email.cc)}</dd>
          </>
        ) : null}
        <dt>{t('Date')}</dt>
        <dd>{new Date(email.sentAt ?? email.receivedAt).toLocaleString()}</dd>
      </dl>
      {failures.length ? (
        <p class="warning" role="note">
          {t('This message failed sender checks:')} {failures.join(', ')}
        </p>
      ) : null}
      {spam?.spam ? (
        <p class="warning" role="note">
          {t('Spam score')} {spam.score}
        </p>
      ) : null}
      {blocked > 0 && !allowRemote ? (
        <p class="notice" role="note">
          {t('Remote images were blocked to protect your privacy.')}{' '}
          <button type="button" class="secondary" onClick={() => setAllowOnce(true)}>
            {t('Show images')}
          </button>{' '}
          {sender ? (
            <button
              type="button"
              class="secondary"
              onClick={() => {
                trustSender(sender);
                setAllowOnce(true);
              }}
            >
              {t('Always from')} {sender}
            </button>
          ) : null}
        </p>
      ) : null}
      <Body email={email} allowRemote={allowRemote} onBlocked={setBlocked} />
      <Attachments parts={email.attachments} />
      <p class="source-links">
        <button type="button" class="link" onClick={() => setShowHeaders(!showHeaders)} aria-expanded={showHeaders}>
          {t('Show headers')}
        </button>{' '}
        <a href={downloadUrl(email.blobId, 'message.eml', 'text/plain', false)} download="message.eml">
          {t('Download source')}
        </a>
      </p>
      {showHeaders ? <Source blobId={email.blobId} /> : null}
    </article>
  );
}

/** The message's header block, fetched as text. */
function Source({ blobId }: { blobId: string }) {
  const [text, setText] = useState('');
  useEffect(() => {
    void fetch(downloadUrl(blobId, 'message.eml', 'text/plain'), { credentials: 'same-origin' })
      .then((r) => r.text())
      .then((all) => setText(all.split(/\r?\n\r?\n/)[0] ?? ''));
  }, [blobId]);
  return <pre class="source">{text}</pre>;
}
