/**
 * Settings: language and theme (kept in this browser), identities and their signatures (JMAP
 * Identity), the vacation reply, forwarding and filters made in a form (the account page's cards on
 * /api/v1/me, which take the webmail's session), the Sieve script as text (JMAP Sieve, RFC 9661),
 * the password and app passwords, and signing out everywhere.
 */
import { useEffect, useState } from 'preact/hooks';
import { setCsrf } from '../shared/api.js';
import { AppPasswords, PasswordCard } from '../account/cards.js';
import { MailRules } from '../account/rules.js';
import type { Identity } from './compose.js';
import { currentLanguage, LANGUAGES, setLanguage, t } from './i18n.js';
import { downloadUrl, jmap, jmap1, upload, type MailSession } from './jmap.js';

export type Theme = 'auto' | 'light' | 'dark';
const THEME_KEY = 'postern.mail.theme';

export function applyTheme(theme: Theme = (localStorage.getItem(THEME_KEY) as Theme | null) ?? 'auto'): Theme {
  if (theme === 'auto') delete document.documentElement.dataset['theme'];
  else document.documentElement.dataset['theme'] = theme;
  return theme;
}

function Section({ title, children }: { title: string; children: preact.ComponentChildren }) {
  return (
    <section class="card" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

function LookCard({ onLanguage }: { onLanguage: () => void }) {
  const [theme, setTheme] = useState<Theme>(applyTheme());
  return (
    <Section title={t('Language and theme')}>
      <div class="field">
        <label for="s-lang">{t('Language')}</label>
        <select
          id="s-lang"
          value={currentLanguage()}
          onChange={(e) => {
            setLanguage((e.target as HTMLSelectElement).value);
            onLanguage();
          }}
        >
          {Object.entries(LANGUAGES).map(([code, name]) => (
            <option key={code} value={code}>
              {name}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="s-theme">{t('Theme')}</label>
        <select
          id="s-theme"
          value={theme}
          onChange={(e) => {
            const next = (e.target as HTMLSelectElement).value as Theme;
            localStorage.setItem(THEME_KEY, next);
            setTheme(applyTheme(next));
          }}
        >
          <option value="auto">{t('As the system')}</option>
          <option value="light">{t('Light')}</option>
          <option value="dark">{t('Dark')}</option>
        </select>
      </div>
    </Section>
  );
}

function IdentitiesCard({ identities, onChanged }: { identities: Identity[]; onChanged: () => void }) {
  const [edits, setEdits] = useState<Record<string, Identity>>({});
  const [status, setStatus] = useState('');
  const save = async (i: Identity) => {
    const e = edits[i.id] ?? i;
    const r = await jmap1<{ notUpdated?: Record<string, { description?: string }> }>('Identity/set', {
      update: { [i.id]: { name: e.name, textSignature: e.textSignature } },
    });
    const failed = Object.values(r.notUpdated ?? {})[0];
    setStatus(failed ? (failed.description ?? t('The change was refused.')) : t('Saved.'));
    onChanged();
  };
  return (
    <Section title={t('Identities and signatures')}>
      {identities.map((i) => {
        const e = edits[i.id] ?? i;
        const set = (patch: Partial<Identity>) => setEdits({ ...edits, [i.id]: { ...e, ...patch } });
        return (
          <form
            key={i.id}
            class="identity"
            onSubmit={(ev) => {
              ev.preventDefault();
              void save(i);
            }}
          >
            <p>
              <strong>{i.email}</strong>
            </p>
            <div class="field">
              <label for={`i-name-${i.id}`}>{t('Name')}</label>
              <input
                id={`i-name-${i.id}`}
                value={e.name}
                onInput={(x) => set({ name: (x.target as HTMLInputElement).value })}
              />
            </div>
            <div class="field">
              <label for={`i-sig-${i.id}`}>{t('Signature')}</label>
              <textarea
                id={`i-sig-${i.id}`}
                rows={3}
                value={e.textSignature}
                onInput={(x) => set({ textSignature: (x.target as HTMLTextAreaElement).value })}
              />
            </div>
            <button type="submit">{t('Save')}</button>
          </form>
        );
      })}
      {status ? <p role="status">{status}</p> : null}
    </Section>
  );
}

/** The active Sieve script as text, checked by the server before it is kept (RFC 9661 SieveScript/set). */
function SieveCard() {
  const [script, setScript] = useState<{ id: string; name: string } | undefined>();
  const [text, setText] = useState('');
  const [status, setStatus] = useState('');
  const load = async () => {
    const r = await jmap1<{ list: Array<{ id: string; name: string; blobId: string; isActive: boolean }> }>(
      'SieveScript/get',
      { ids: null },
    );
    const active = r.list.find((s) => s.isActive);
    setScript(active);
    if (active) {
      const res = await fetch(downloadUrl(active.blobId, 'script.sieve', 'application/sieve'), {
        credentials: 'same-origin',
      });
      setText(await res.text());
    }
  };
  useEffect(() => void load().catch((e: unknown) => setStatus(String(e))), []);
  const save = async (e: Event) => {
    e.preventDefault();
    setStatus('');
    try {
      const blob = await upload(new Blob([text], { type: 'application/sieve' }), () => undefined);
      const set = script
        ? { update: { [script.id]: { blobId: blob.blobId } } }
        : { create: { s: { name: 'webmail', blobId: blob.blobId } }, onSuccessActivateScript: '#s' };
      const r = await jmap([['SieveScript/set', { ...set }, 's']]);
      const answer = r.get('s') ?? {};
      const failed = Object.values(
        (answer['notUpdated'] ?? answer['notCreated'] ?? {}) as Record<string, { description?: string }>,
      )[0];
      setStatus(failed ? (failed.description ?? t('The script was refused.')) : t('Saved.'));
      if (!failed) await load();
    } catch (err) {
      setStatus(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <Section title={t('Sieve script')}>
      <p>{t('The rules above are kept as this script; editing it by hand replaces them.')}</p>
      <form onSubmit={(e) => void save(e)}>
        <textarea
          class="code"
          rows={12}
          aria-label={t('Sieve script')}
          spellcheck={false}
          value={text}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        />
        <button type="submit">{t('Save script')}</button>
      </form>
      {status ? <p role="status">{status}</p> : null}
    </Section>
  );
}

export function Settings(props: {
  session: MailSession;
  identities: Identity[];
  onIdentities: () => void;
  onLanguage: () => void;
  onSignOutEverywhere: () => void;
}) {
  // The account page's cards call /api/v1/me with this session's cookie and CSRF token.
  setCsrf(props.session.csrf);
  return (
    <div class="settings">
      <h1>{t('Settings')}</h1>
      <LookCard onLanguage={props.onLanguage} />
      <IdentitiesCard identities={props.identities} onChanged={props.onIdentities} />
      {props.session.settings ? (
        <>
          <MailRules />
          <SieveCard />
          <PasswordCard address={props.session.address} />
          <AppPasswords />
        </>
      ) : (
        <p class="notice">
          {t('Signed in with an app password: sign in with your password to change the account settings.')}
        </p>
      )}
      <Section title={t('Sessions')}>
        <button type="button" class="danger" onClick={props.onSignOutEverywhere}>
          {t('Sign out everywhere')}
        </button>
      </Section>
    </div>
  );
}
