/** The dashboard (the server's counts), the outbound queue and the audit log. */
import { useState } from 'preact/hooks';
import { api, formatBytes, type Page, messageOf } from '../shared/api.js';
import { Card, ErrorText } from '../shared/components.js';
import { LineChart } from '../shared/chart.js';
import { useLoad } from '../shared/hooks.js';

interface Status {
  hostname: string;
  uptimeSeconds: number;
  domains: number;
  accounts: number;
  queue: { entries: number; held: number };
}

interface Certificate {
  names: string[];
  issuer: string;
  source: string;
  notAfter: string;
  daysLeft: number;
}

function Certificates() {
  const certs = useLoad(() => api<{ items: Certificate[] }>('GET', '/certificates'), []);
  if (!certs.data?.items.length) return null;
  return (
    <Card title="Certificates">
      <ul class="certs">
        {certs.data.items.map((c) => (
          <li key={c.names.join(',')} class={c.daysLeft < 14 ? 'error' : ''}>
            {c.names.join(', ')} — {c.issuer} ({c.source}), {c.daysLeft} days left
          </li>
        ))}
      </ul>
    </Card>
  );
}

interface DomainHealth {
  domain: string;
  checkedAt: string | null;
  counts: { error: number; warning: number; info: number } | null;
  worst: string | null;
  failed: string | null;
}

/** The doctor's last DNS check of each domain, errors first; checked every few hours or when asked. */
function DomainHealthCard() {
  const status = useLoad(() => api<{ running: boolean; items: DomainHealth[] }>('GET', '/doctor'), []);
  const [error, setError] = useState('');
  const runNow = async () => {
    setError('');
    try {
      await api('POST', '/doctor');
      // The checks query DNS: look again while they run.
      for (let i = 0; i < 60; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const now = await api<{ running: boolean }>('GET', '/doctor');
        if (!now.running) break;
      }
      status.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const describe = (h: DomainHealth) => {
    if (h.failed) return { tone: 'error', text: `check failed: ${h.failed}` };
    if (!h.counts) return { tone: 'muted', text: 'not checked yet' };
    if (h.counts.error) return { tone: 'error', text: `${h.counts.error} to fix: ${h.worst ?? ''}` };
    if (h.counts.warning) return { tone: 'warn', text: `${h.counts.warning} to look at: ${h.worst ?? ''}` };
    return { tone: 'ok', text: 'all right' };
  };
  return (
    <Card title="DNS of the domains">
      <ul class="health">
        {status.data?.items.map((h) => {
          const d = describe(h);
          return (
            <li key={h.domain} class={d.tone}>
              <a href={`#/domains/${encodeURIComponent(h.domain)}`}>{h.domain}</a>: {d.text}
              {h.checkedAt ? <small> (checked {new Date(h.checkedAt).toLocaleString()})</small> : null}
            </li>
          );
        })}
      </ul>
      <button type="button" class="secondary" disabled={status.data?.running} onClick={() => void runNow()}>
        {status.data?.running ? 'Checking…' : 'Check all now'}
      </button>
      <ErrorText error={status.error || error} />
    </Card>
  );
}

interface Series {
  start: string;
  values: Record<'received' | 'rejected' | 'spam' | 'sent' | 'bounced' | 'deferred' | 'queue', number[]>;
}

function Charts({ title, series, first, last }: { title: string; series: Series; first: string; last: string }) {
  const v = series.values;
  return (
    <Card title={title}>
      <div class="charts">
        <LineChart
          title="Mail in"
          first={first}
          last={last}
          series={[
            { label: 'received', values: v.received, tone: 's1' },
            { label: 'refused', values: v.rejected, tone: 's3' },
            { label: 'spam', values: v.spam, tone: 's4' },
          ]}
        />
        <LineChart
          title="Mail out"
          first={first}
          last={last}
          series={[
            { label: 'sent', values: v.sent, tone: 's2' },
            { label: 'bounced', values: v.bounced, tone: 's3' },
            { label: 'deferred', values: v.deferred, tone: 's4' },
          ]}
        />
        <LineChart
          title="Queue"
          first={first}
          last={last}
          series={[{ label: 'largest', values: v.queue, tone: 's1' }]}
        />
      </div>
    </Card>
  );
}

export function Dashboard() {
  const { data, error } = useLoad(() => api<Status>('GET', '/status'), []);
  const stats = useLoad(() => api<{ hours: Series; days: Series }>('GET', '/stats'), []);
  return (
    <>
      <h1>Dashboard</h1>
      <ErrorText error={error} />
      {data ? (
        <div class="tiles">
          <Card title="Domains">
            <p class="big" data-testid="status-domains">
              {data.domains}
            </p>
          </Card>
          <Card title="Accounts">
            <p class="big">{data.accounts}</p>
          </Card>
          <Card title="Queue">
            <p class="big">{data.queue.entries}</p>
            <small>{data.queue.held} held</small>
          </Card>
          <Card title="Server">
            <p>{data.hostname}</p>
            <small>up {Math.floor(data.uptimeSeconds / 3600)} h</small>
          </Card>
        </div>
      ) : null}
      <Certificates />
      <DomainHealthCard />
      <ErrorText error={stats.error} />
      {stats.data ? (
        <>
          <Charts title="Last 24 hours" series={stats.data.hours} first="24 h ago" last="now" />
          <Charts title="Last 30 days" series={stats.data.days} first="30 days ago" last="today" />
        </>
      ) : null}
    </>
  );
}

interface QueueEntry {
  id: string;
  sender: string;
  size: number;
  held: boolean;
  createdAt: string;
  recipients: Array<{ recipient: string; status: string; attempts: number; lastError: string | null }>;
}

export function QueuePage() {
  const queue = useLoad(() => api<Page<QueueEntry>>('GET', '/queue?limit=500'), []);
  const [error, setError] = useState('');
  const act = async (id: string, action: 'retry' | 'hold' | 'release' | 'delete') => {
    setError('');
    try {
      if (action === 'delete') await api('DELETE', `/queue/${id}`);
      else await api('POST', `/queue/${id}/${action}`);
      queue.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <>
      <h1>Outbound queue</h1>
      <ErrorText error={queue.error || error} />
      {queue.data?.items.length === 0 ? <p>The queue is empty.</p> : null}
      <table>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Sender</th>
            <th scope="col">Recipients</th>
            <th scope="col">Size</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {queue.data?.items.map((e) => (
            <tr key={e.id}>
              <td>
                {e.id}
                {e.held ? ' (held)' : ''}
              </td>
              <td>{e.sender || '<>'}</td>
              <td>
                {e.recipients.map((r) => (
                  <div key={r.recipient}>
                    {r.recipient} — {r.status}, {r.attempts} attempts{r.lastError ? `: ${r.lastError}` : ''}
                  </div>
                ))}
              </td>
              <td>{formatBytes(e.size)}</td>
              <td class="actions">
                <button type="button" class="secondary" onClick={() => void act(e.id, 'retry')}>
                  Retry
                </button>
                <button type="button" class="secondary" onClick={() => void act(e.id, e.held ? 'release' : 'hold')}>
                  {e.held ? 'Release' : 'Hold'}
                </button>
                <button type="button" class="danger" onClick={() => void act(e.id, 'delete')}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  via: string;
  remote: string | null;
  action: string;
  target: string;
}

export function AuditPage() {
  const audit = useLoad(() => api<{ items: AuditEntry[] }>('GET', '/audit?limit=200'), []);
  return (
    <>
      <h1>Audit log</h1>
      <p>
        <a href="/api/v1/audit?format=csv" download>
          Export as CSV
        </a>
      </p>
      <ErrorText error={audit.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">From</th>
            <th scope="col">What</th>
          </tr>
        </thead>
        <tbody>
          {audit.data?.items.map((e) => (
            <tr key={e.id}>
              <td>{new Date(e.at).toLocaleString()}</td>
              <td>
                {e.actor} <small>({e.via})</small>
              </td>
              <td>{e.remote ?? ''}</td>
              <td>
                {e.action} {e.target}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
