/** The calling admin's own security: two-factor login (enrol, confirm, turn off) and API tokens for scripts. */
import { useState } from 'preact/hooks';
import { api, type Page, type Session, messageOf } from '../shared/api.js';
import { Card, ErrorText, Field } from '../shared/components.js';
import { useLoad } from '../shared/hooks.js';

function TwoFactor({ session, onChanged }: { session: Session; onChanged: () => void }) {
  const [enrolment, setEnrolment] = useState<{ secret: string; uri: string } | null>(null);
  const [code, setCode] = useState('');
  const [error, setError] = useState('');
  const run = async (call: () => Promise<unknown>) => {
    setError('');
    try {
      await call();
      setCode('');
      setEnrolment(null);
      onChanged();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const start = async () => {
    setError('');
    try {
      setEnrolment(await api<{ secret: string; uri: string }>('POST', '/totp'));
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <Card title="Two-factor login">
      <p data-testid="totp-state">{session.totp ? 'On: logging in asks for a code.' : 'Off.'}</p>
      {enrolment ? (
        <>
          <p>Add this key to an authenticator app (or open the link on the phone), then enter the code it shows:</p>
          <p>
            <code data-testid="totp-secret">{enrolment.secret}</code> — <a href={enrolment.uri}>otpauth link</a>
          </p>
        </>
      ) : null}
      {session.totp || enrolment ? (
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => (enrolment ? api('POST', '/totp/confirm', { code }) : api('DELETE', '/totp', { code })));
          }}
        >
          <Field label="Code" name="code" value={code} onInput={setCode} autoComplete="one-time-code" required />
          <button type="submit">{enrolment ? 'Turn on' : 'Turn off'}</button>
        </form>
      ) : (
        <button type="button" onClick={() => void start()}>
          Set up two-factor login
        </button>
      )}
      <ErrorText error={error} />
    </Card>
  );
}

interface Token {
  id: string;
  name: string;
  scopes: string[];
  expires_at: string | null;
}

function Tokens() {
  const tokens = useLoad(() => api<Page<Token>>('GET', '/tokens'), []);
  const [name, setName] = useState('');
  const [readOnly, setReadOnly] = useState(true);
  const [made, setMade] = useState('');
  const [error, setError] = useState('');
  const add = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      const token = await api<{ token: string }>('POST', '/tokens', {
        name,
        scopes: readOnly ? ['read'] : ['read', 'write'],
        expires_in_days: 90,
      });
      setMade(token.token);
      setName('');
      tokens.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <Card title="API tokens">
      <ul>
        {tokens.data?.items.map((t) => (
          <li key={t.id}>
            {t.name}{' '}
            <small>
              ({t.scopes.join(', ')}; until {t.expires_at?.slice(0, 10)})
            </small>{' '}
            <button
              type="button"
              class="danger"
              onClick={() => void api('DELETE', `/tokens/${t.id}`).then(tokens.reload)}
            >
              Revoke
            </button>
          </li>
        ))}
      </ul>
      <form class="inline" onSubmit={(e) => void add(e)}>
        <Field label="Token for" name="token-name" value={name} onInput={setName} required />
        <label class="check">
          <input
            type="checkbox"
            checked={readOnly}
            onChange={(e) => setReadOnly((e.target as HTMLInputElement).checked)}
          />{' '}
          read only
        </label>
        <button type="submit">Make token (90 days)</button>
      </form>
      {made ? (
        <p role="status">
          Token (shown once): <code data-testid="new-token">{made}</code>
        </p>
      ) : null}
      <ErrorText error={tokens.error || error} />
    </Card>
  );
}

export function SecurityPage({ session, onChanged }: { session: Session; onChanged: () => void }) {
  return (
    <>
      <h1>Security</h1>
      <TwoFactor session={session} onChanged={onChanged} />
      <Tokens />
    </>
  );
}
