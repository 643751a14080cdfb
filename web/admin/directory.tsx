/** A domain's accounts (with enable/disable, password reset and removal) and its aliases. */
import { useState } from 'preact/hooks';
import { api, type Account, type Page, messageOf } from '../shared/api.js';
import { Card, ErrorText, Field, QuotaBar } from '../shared/components.js';
import { useLoad } from '../shared/hooks.js';

/** Runs an API call, then `done`; a refusal is shown through `setError`. */
function action(setError: (e: string) => void, done: () => void) {
  return async (call: () => Promise<unknown>) => {
    setError('');
    try {
      await call();
      done();
    } catch (err) {
      setError(messageOf(err));
    }
  };
}

export function AccountRow({ account, onChanged }: { account: Account; onChanged: () => void }) {
  const [error, setError] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [password, setPassword] = useState('');
  const run = action(setError, onChanged);
  const path = `/accounts/${encodeURIComponent(account.address)}`;
  return (
    <tr>
      <td>{account.address}</td>
      <td data-testid={`used-${account.address}`}>
        <QuotaBar used={account.usedBytes} quota={account.quotaBytes} />
      </td>
      <td>{account.enabled ? 'yes' : 'no'}</td>
      <td class="actions">
        <button
          type="button"
          class="secondary"
          onClick={() => void run(() => api('PATCH', path, { enabled: !account.enabled }))}
        >
          {account.enabled ? 'Disable' : 'Enable'}
        </button>
        <form
          class="inline-small"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => api('PATCH', path, { password })).then(() => setPassword(''));
          }}
        >
          <label class="sr-only" for={`pw-${account.address}`}>
            New password for {account.address}
          </label>
          <input
            id={`pw-${account.address}`}
            type="password"
            autoComplete="new-password"
            placeholder="new password"
            value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
            required
          />
          <button type="submit" class="secondary">
            Set password
          </button>
        </form>
        {confirming ? (
          <button type="button" class="danger" onClick={() => void run(() => api('DELETE', path))}>
            Delete {account.address} and its mail
          </button>
        ) : (
          <button type="button" class="danger" onClick={() => setConfirming(true)}>
            Delete…
          </button>
        )}
        <ErrorText error={error} />
      </td>
    </tr>
  );
}

export function Accounts({ domain }: { domain: string }) {
  const accounts = useLoad(
    () => api<Page<Account>>('GET', `/domains/${encodeURIComponent(domain)}/accounts?limit=500`),
    [domain],
  );
  return (
    <Card title="Accounts">
      <ErrorText error={accounts.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Address</th>
            <th scope="col">Mailbox use</th>
            <th scope="col">Enabled</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {accounts.data?.items.map((a) => (
            <AccountRow key={a.address} account={a} onChanged={accounts.reload} />
          ))}
        </tbody>
      </table>
      <AddAccount domain={domain} onAdded={accounts.reload} />
      <button type="button" class="secondary" onClick={accounts.reload}>
        Refresh
      </button>
    </Card>
  );
}

function AddAccount({ domain, onAdded }: { domain: string; onAdded: () => void }) {
  const [local, setLocal] = useState('');
  const [password, setPassword] = useState('');
  const [quota, setQuota] = useState('');
  const [error, setError] = useState('');
  const run = action(setError, () => {
    setLocal('');
    setPassword('');
    setQuota('');
    onAdded();
  });
  return (
    <form
      class="inline"
      aria-label="Add an account"
      onSubmit={(e) => {
        e.preventDefault();
        void run(() =>
          api('POST', `/domains/${encodeURIComponent(domain)}/accounts`, {
            address: `${local}@${domain}`,
            password,
            ...(quota ? { quota } : {}),
          }),
        );
      }}
    >
      <Field label={`Address (@${domain})`} name="local" value={local} onInput={setLocal} required />
      <Field
        label="Password"
        name="new-password"
        type="password"
        value={password}
        onInput={setPassword}
        autoComplete="new-password"
        required
      />
      <Field label="Quota" name="quota" value={quota} onInput={setQuota} placeholder="2G" />
      <button type="submit">Add account</button>
      <ErrorText error={error} />
    </form>
  );
}

interface Alias {
  source: string;
  destinations: string[];
}

export function Aliases({ domain }: { domain: string }) {
  const aliases = useLoad(
    () => api<Page<Alias>>('GET', `/domains/${encodeURIComponent(domain)}/aliases?limit=500`),
    [domain],
  );
  const [source, setSource] = useState('');
  const [destinations, setDestinations] = useState('');
  const [error, setError] = useState('');
  const run = action(setError, aliases.reload);
  const add = (e: Event) => {
    e.preventDefault();
    void run(() =>
      api('POST', `/domains/${encodeURIComponent(domain)}/aliases`, {
        source: `${source.trim()}@${domain}`.replace(/^@@/, '@'),
        destinations: destinations
          .split(/[\s,]+/)
          .map((d) => d.trim())
          .filter(Boolean),
      }),
    ).then(() => {
      setSource('');
      setDestinations('');
    });
  };
  return (
    <Card title="Aliases">
      <ErrorText error={aliases.error || error} />
      {aliases.data?.items.length === 0 ? <p>No aliases yet.</p> : null}
      <ul>
        {aliases.data?.items.map((a) => (
          <li key={a.source}>
            <strong>{a.source.startsWith('@') ? `${a.source} (catch-all)` : a.source}</strong> →{' '}
            {a.destinations.join(', ')}{' '}
            <button
              type="button"
              class="danger"
              aria-label={`Remove alias ${a.source}`}
              onClick={() => void run(() => api('DELETE', `/aliases/${encodeURIComponent(a.source)}`))}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form class="inline" aria-label="Add an alias" onSubmit={add}>
        <Field
          label={`Alias (@${domain}; empty for a catch-all)`}
          name="alias-source"
          value={source}
          onInput={setSource}
        />
        <Field
          label="Delivers to"
          name="alias-destinations"
          value={destinations}
          onInput={setDestinations}
          placeholder="ann@example.com, bob@example.com"
          required
        />
        <button type="submit">Add alias</button>
      </form>
    </Card>
  );
}
