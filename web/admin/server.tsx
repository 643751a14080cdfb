/** Superadmin screens: the admins, and the server's recent log searched by connection id, address or queue id. */
import { useState } from 'preact/hooks';
import { api, type Page, messageOf } from '../shared/api.js';
import { Card, ErrorText, Field } from '../shared/components.js';
import { useLoad } from '../shared/hooks.js';

interface Admin {
  address: string;
  role: 'superadmin' | 'domain';
  domains: string[];
}

export function AdminsPage({ me }: { me: string }) {
  const admins = useLoad(() => api<Page<Admin>>('GET', '/admins?limit=500'), []);
  const [address, setAddress] = useState('');
  const [password, setPassword] = useState('');
  const [domains, setDomains] = useState('');
  const [error, setError] = useState('');
  const run = async (call: () => Promise<unknown>) => {
    setError('');
    try {
      await call();
      admins.reload();
      return true;
    } catch (err) {
      setError(messageOf(err));
      return false;
    }
  };
  const add = async (e: Event) => {
    e.preventDefault();
    const list = domains
      .split(/[\s,]+/)
      .map((d) => d.trim())
      .filter(Boolean);
    const ok = await run(() =>
      api('POST', '/admins', { address, password, role: list.length ? 'domain' : 'superadmin', domains: list }),
    );
    if (ok) {
      setAddress('');
      setPassword('');
      setDomains('');
    }
  };
  return (
    <>
      <h1>Admins</h1>
      <ErrorText error={admins.error || error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Admin</th>
            <th scope="col">Role</th>
            <th scope="col">Domains</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {admins.data?.items.map((a) => (
            <tr key={a.address}>
              <td>{a.address}</td>
              <td>{a.role}</td>
              <td>{a.domains.join(', ') || 'all'}</td>
              <td>
                {a.address === me ? null : (
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Remove admin ${a.address}`}
                    onClick={() => void run(() => api('DELETE', `/admins/${encodeURIComponent(a.address)}`))}
                  >
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Card title="Add an admin">
        <form class="inline" onSubmit={(e) => void add(e)}>
          <Field label="Address" name="admin-address" value={address} onInput={setAddress} required />
          <Field
            label="Password"
            name="admin-password"
            type="password"
            value={password}
            onInput={setPassword}
            autoComplete="new-password"
            required
          />
          <Field
            label="Domains (empty: superadmin)"
            name="admin-domains"
            value={domains}
            onInput={setDomains}
            placeholder="example.com, example.net"
          />
          <button type="submit">Add admin</button>
        </form>
      </Card>
    </>
  );
}

export function LogsPage() {
  const [query, setQuery] = useState('');
  const [asked, setAsked] = useState('');
  const logs = useLoad(
    () => api<{ items: Array<Record<string, unknown>> }>('GET', `/logs?limit=300&q=${encodeURIComponent(asked)}`),
    [asked],
  );
  return (
    <>
      <h1>Recent log</h1>
      <form
        class="inline"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setAsked(query);
        }}
      >
        <Field
          label="Connection id, address or queue id"
          name="log-query"
          value={query}
          onInput={setQuery}
          placeholder="ann@example.com"
        />
        <button type="submit">Search</button>
      </form>
      <ErrorText error={logs.error} />
      <table class="log">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Level</th>
            <th scope="col">Message</th>
            <th scope="col">Fields</th>
          </tr>
        </thead>
        <tbody>
          {logs.data?.items.map((l, i) => {
            const { time, level, msg, ...fields } = l;
            return (
              <tr key={i} class={`level-${String(level)}`}>
                <td>{String(time ?? '').slice(11, 23)}</td>
                <td>{String(level ?? '')}</td>
                <td>{String(msg ?? '')}</td>
                <td class="value">{JSON.stringify(fields)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}
