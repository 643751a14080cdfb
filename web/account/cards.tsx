/** The account page's password and app-password cards, which the webmail's settings show too. */
import { useState } from 'preact/hooks';
import { api, messageOf } from '../shared/api.js';
import { Card, CopyButton, ErrorText, Field } from '../shared/components.js';
import { useLoad } from '../shared/hooks.js';

interface AppPassword {
  id: number;
  name: string;
  createdAt: string;
}

export function PasswordCard({ address, onChanged }: { address: string; onChanged?: (password: string) => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [error, setError] = useState('');
  const [done, setDone] = useState(false);
  const change = async (e: Event) => {
    e.preventDefault();
    setError('');
    setDone(false);
    try {
      await api('PUT', '/me/password', { current, password: next });
      onChanged?.(next);
      setCurrent('');
      setNext('');
      setDone(true);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <Card title="Password">
      <form class="inline" onSubmit={(e) => void change(e)}>
        {/* For password managers: which account this password belongs to. */}
        <input
          class="sr-only"
          type="text"
          name="username"
          autoComplete="username"
          value={address}
          readOnly
          tabIndex={-1}
          aria-hidden="true"
        />
        <Field
          label="Current password"
          name="current"
          type="password"
          value={current}
          onInput={setCurrent}
          autoComplete="current-password"
          required
        />
        <Field
          label="New password"
          name="next"
          type="password"
          value={next}
          onInput={setNext}
          autoComplete="new-password"
          required
        />
        <button type="submit">Change password</button>
      </form>
      <ErrorText error={error} />
      {done ? <p role="status">Password changed.</p> : null}
    </Card>
  );
}

export function AppPasswords() {
  const list = useLoad(() => api<{ items: AppPassword[] }>('GET', '/me/app-passwords'), []);
  const [name, setName] = useState('');
  const [made, setMade] = useState<{ name: string; password: string; token: string } | null>(null);
  const [error, setError] = useState('');
  const add = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      const created = await api<{ name: string; password: string; token: string }>('POST', '/me/app-passwords', {
        name,
      });
      setMade(created);
      setName('');
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const revoke = async (id: number) => {
    await api('DELETE', `/me/app-passwords/${id}`);
    list.reload();
  };
  return (
    <Card title="App passwords">
      <p>One per mail program or phone, so that you can revoke one without changing your password.</p>
      <ul>
        {list.data?.items.map((a) => (
          <li key={a.id}>
            {a.name} <small>made {new Date(a.createdAt).toLocaleDateString()}</small>{' '}
            <button type="button" class="danger" onClick={() => void revoke(a.id)}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
      <form class="inline" onSubmit={(e) => void add(e)}>
        <Field label="For (e.g. phone)" name="app-name" value={name} onInput={setName} required />
        <button type="submit">Make app password</button>
      </form>
      <ErrorText error={list.error || error} />
      {made ? (
        <div role="status">
          <p>
            The password for {made.name} is <code data-testid="app-password">{made.password}</code>{' '}
            <CopyButton text={made.password} label="password" /> — enter it in the mail program now; it is not shown
            again.
          </p>
          <p>
            A program that logs in with a token instead (JMAP, <code>Authorization: Bearer</code>) takes{' '}
            <code data-testid="app-token" class="token">
              {made.token}
            </code>{' '}
            <CopyButton text={made.token} label="token" />: the same password, revoked with it.
          </p>
        </div>
      ) : null}
    </Card>
  );
}
