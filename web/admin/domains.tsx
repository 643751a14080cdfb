/** Domains: the list (and adding one), and a domain's page: accounts with quota bars, aliases, DKIM, DNS. */
import { useState } from 'preact/hooks';
import { api, formatBytes, type DkimKey, type DnsRecord, type Domain, type Page, messageOf } from '../shared/api.js';
import { Card, CopyButton, ErrorText, Field } from '../shared/components.js';
import { useLoad } from '../shared/hooks.js';
import { Accounts, Aliases } from './directory.js';

export function DomainsPage({ canAdd }: { canAdd: boolean }) {
  const { data, error, reload } = useLoad(() => api<Page<Domain>>('GET', '/domains?limit=500'), []);
  const [name, setName] = useState('');
  const [addError, setAddError] = useState('');
  const add = async (e: Event) => {
    e.preventDefault();
    setAddError('');
    try {
      await api('POST', '/domains', { name });
      setName('');
      reload();
    } catch (err) {
      setAddError(messageOf(err));
    }
  };
  return (
    <>
      <h1>Domains</h1>
      <ErrorText error={error} />
      <table>
        <caption class="sr-only">Hosted domains</caption>
        <thead>
          <tr>
            <th scope="col">Domain</th>
            <th scope="col">Accounts</th>
            <th scope="col">Aliases</th>
            <th scope="col">Quotas given</th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((d) => (
            <tr key={d.name}>
              <td>
                <a href={`#/domains/${encodeURIComponent(d.name)}`}>{d.name}</a>
                {d.aliasOf ? <small> alias of {d.aliasOf}</small> : null}
              </td>
              <td data-testid={`accounts-${d.name}`}>
                {d.accounts}
                {d.limits.maxAccounts ? ` / ${d.limits.maxAccounts}` : ''}
              </td>
              <td>{d.aliases}</td>
              <td>{formatBytes(d.quotaTotal)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {canAdd ? (
        <Card title="Add a domain">
          <form class="inline" onSubmit={(e) => void add(e)}>
            <Field
              label="Domain name"
              name="domain"
              value={name}
              onInput={setName}
              placeholder="example.com"
              required
            />
            <button type="submit">Add domain</button>
          </form>
          <ErrorText error={addError} />
        </Card>
      ) : null}
    </>
  );
}

export function DomainPage({ name, canEditLimits }: { name: string; canEditLimits: boolean }) {
  // A rotation adds a record to publish: the DNS list reloads with it.
  const [keysVersion, setKeysVersion] = useState(0);
  return (
    <>
      <h1>{name}</h1>
      <Accounts domain={name} />
      {canEditLimits ? <Limits domain={name} /> : null}
      <Aliases domain={name} />
      <Dkim domain={name} onRotated={() => setKeysVersion((v) => v + 1)} />
      <Dns domain={name} version={keysVersion} />
      <Doctor domain={name} />
    </>
  );
}

/** PostfixAdmin's per-domain limits (superadmin): 0 or empty is no limit; quotas as sizes ("10G"). */
function Limits({ domain }: { domain: string }) {
  const current = useLoad(() => api<Domain>('GET', `/domains/${encodeURIComponent(domain)}`), [domain]);
  const [form, setForm] = useState<Record<string, string> | null>(null);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState(false);
  const l = current.data?.limits;
  const values = form ?? {
    maxAccounts: String(l?.maxAccounts ?? 0),
    maxAliases: String(l?.maxAliases ?? 0),
    maxQuotaBytes: l?.maxQuotaBytes ? formatBytes(l.maxQuotaBytes).replace(' ', '') : '0',
    defaultQuotaBytes: l?.defaultQuotaBytes ? formatBytes(l.defaultQuotaBytes).replace(' ', '') : '0',
  };
  const set = (key: string) => (v: string) => setForm({ ...values, [key]: v });
  const save = async (e: Event) => {
    e.preventDefault();
    setError('');
    setSaved(false);
    try {
      await api('PATCH', `/domains/${encodeURIComponent(domain)}`, {
        maxAccounts: Number(values.maxAccounts || 0),
        maxAliases: Number(values.maxAliases || 0),
        maxQuotaBytes: values.maxQuotaBytes || '0',
        defaultQuotaBytes: values.defaultQuotaBytes || '0',
      });
      setSaved(true);
      current.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <Card title="Limits">
      <form class="inline" onSubmit={(e) => void save(e)}>
        <Field label="Most accounts" name="maxAccounts" value={values.maxAccounts!} onInput={set('maxAccounts')} />
        <Field label="Most aliases" name="maxAliases" value={values.maxAliases!} onInput={set('maxAliases')} />
        <Field
          label="Quotas add up to at most"
          name="maxQuotaBytes"
          value={values.maxQuotaBytes!}
          onInput={set('maxQuotaBytes')}
        />
        <Field
          label="Quota of a new account"
          name="defaultQuotaBytes"
          value={values.defaultQuotaBytes!}
          onInput={set('defaultQuotaBytes')}
        />
        <button type="submit">Save limits</button>
      </form>
      <ErrorText error={current.error || error} />
      {saved ? <p role="status">Limits saved.</p> : null}
    </Card>
  );
}

function Dkim({ domain, onRotated }: { domain: string; onRotated: () => void }) {
  const keys = useLoad(() => api<{ items: DkimKey[] }>('GET', `/domains/${encodeURIComponent(domain)}/dkim`), [domain]);
  const [error, setError] = useState('');
  const rotate = async () => {
    setError('');
    try {
      await api('POST', `/domains/${encodeURIComponent(domain)}/dkim/rotate`, {});
      keys.reload();
      onRotated();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <Card title="DKIM keys">
      <ErrorText error={keys.error || error} />
      <ul class="keys">
        {keys.data?.items.map((k) => (
          <li key={k.selector} data-testid={`dkim-${k.selector}`}>
            <strong>{k.selector}</strong> {k.algorithm} <span class={`status ${k.status}`}>{k.status}</span>
          </li>
        ))}
      </ul>
      <p>A new key signs once DNS shows its record; the old one then retires.</p>
      <button type="button" onClick={() => void rotate()}>
        Rotate key
      </button>
    </Card>
  );
}

function Dns({ domain, version }: { domain: string; version: number }) {
  const records = useLoad(
    () => api<{ items: DnsRecord[] }>('GET', `/domains/${encodeURIComponent(domain)}/dns`),
    [domain, version],
  );
  return (
    <Card title="DNS records to publish">
      <ErrorText error={records.error} />
      <table class="dns">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Value</th>
            <th scope="col">
              <span class="sr-only">Copy</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {records.data?.items.map((r, i) => (
            <tr key={i} title={r.note}>
              <td>{r.name}</td>
              <td>{r.type}</td>
              <td class="value">{r.value}</td>
              <td>
                <CopyButton text={r.value} label={`${r.type} record of ${r.name}`} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

interface Finding {
  id: string;
  severity: 'error' | 'warning' | 'info';
  summary: string;
  fix?: string;
}

/** The doctor's DNS checks for the domain, run when asked (they query DNS). */
function Doctor({ domain }: { domain: string }) {
  const [report, setReport] = useState<{ findings: Finding[] } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const check = async () => {
    setBusy(true);
    setError('');
    try {
      setReport(await api<{ findings: Finding[] }>('GET', `/domains/${encodeURIComponent(domain)}/doctor`));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="DNS check">
      <button type="button" onClick={() => void check()} disabled={busy} aria-busy={busy}>
        {busy ? 'Checking…' : 'Check DNS now'}
      </button>
      <ErrorText error={error} />
      {report ? (
        report.findings.length === 0 ? (
          <p role="status">Everything the doctor checks is right.</p>
        ) : (
          <ul class="findings" role="status">
            {report.findings.map((f) => (
              <li key={f.id} class={`finding sev-${f.severity}`}>
                <strong>{f.severity}</strong> {f.summary}
                {f.fix ? (
                  <div class="fix">
                    <code>{f.fix}</code> <CopyButton text={f.fix} label={`fix for ${f.id}`} />
                  </div>
                ) : null}
              </li>
            ))}
          </ul>
        )
      ) : null}
    </Card>
  );
}
