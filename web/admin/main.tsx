/**
 * The admin UI: a single-page app on the admin API (docs/admin-api.md). Logs in to a browser session
 * (cookie + CSRF token, TOTP when the admin has it on), then shows the dashboard, domains with their
 * accounts, aliases, DKIM keys and DNS records, the queue and the audit log. Routes are the URL's
 * hash (#/domains/example.com), so the server serves one page.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrf, type Session } from '../shared/api.js';
import { LoginForm } from '../shared/components.js';
import '../shared/style.css';
import { DomainPage, DomainsPage } from './domains.js';
import { AuditPage, Dashboard, QueuePage } from './pages.js';
import { QuarantinePage } from './quarantine.js';
import { SecurityPage } from './security.js';
import { AdminsPage, LogsPage } from './server.js';

function useRoute(): string {
  const [route, setRoute] = useState(location.hash.slice(1) || '/');
  useEffect(() => {
    const onChange = () => setRoute(location.hash.slice(1) || '/');
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  return (
    <LoginForm
      title="Postern admin"
      addressLabel="Admin address"
      withTotp
      failedText="Wrong address, password or code."
      onSubmit={async ({ address, password, totp }) =>
        onLogin(await api<Session>('POST', '/session', { address, password, ...(totp ? { totp } : {}) }))
      }
    />
  );
}

function Shell({
  session,
  onLogout,
  onSession,
}: {
  session: Session;
  onLogout: () => void;
  onSession: (s: Session) => void;
}) {
  const route = useRoute();
  const logout = async () => {
    await api('DELETE', '/session');
    onLogout();
  };
  const domain = /^\/domains\/([^/]+)$/.exec(route)?.[1];
  const links: Array<[string, string]> = [
    ['/', 'Dashboard'],
    ['/domains', 'Domains'],
    ...(session.role === 'superadmin'
      ? ([
          ['/queue', 'Queue'],
          ['/admins', 'Admins'],
          ['/logs', 'Log'],
        ] as Array<[string, string]>)
      : []),
    ['/quarantine', 'Quarantine'],
    ['/audit', 'Audit log'],
    ['/security', 'Security'],
  ];
  return (
    <>
      <header>
        <strong>Postern</strong>
        <nav aria-label="Main">
          {links.map(([href, label]) => (
            <a key={href} href={`#${href}`} aria-current={route === href ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">{session.admin}</span>
        <button type="button" class="secondary" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      <main>
        {domain ? (
          <DomainPage name={decodeURIComponent(domain)} canEditLimits={session.role === 'superadmin'} />
        ) : route === '/domains' ? (
          <DomainsPage canAdd={session.role === 'superadmin'} />
        ) : route === '/queue' ? (
          <QueuePage />
        ) : route === '/admins' ? (
          <AdminsPage me={session.admin} />
        ) : route === '/logs' ? (
          <LogsPage />
        ) : route === '/quarantine' ? (
          <QuarantinePage />
        ) : route === '/audit' ? (
          <AuditPage />
        ) : route === '/security' ? (
          <SecurityPage session={session} onChanged={() => void api<Session>('GET', '/session').then(onSession)} />
        ) : (
          <Dashboard />
        )}
      </main>
    </>
  );
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    api<Session>('GET', '/session').then(
      (s) => {
        setCsrf(s.csrf);
        setSession(s);
      },
      () => setSession(null),
    );
  }, []);
  if (session === undefined) return <p aria-busy="true">Loading…</p>;
  if (session === null)
    return (
      <Login
        onLogin={(s) => {
          setCsrf(s.csrf);
          setSession(s);
        }}
      />
    );
  return (
    <Shell
      session={session}
      onLogout={() => {
        setCsrf('');
        setSession(null);
      }}
      onSession={setSession}
    />
  );
}

render(<App />, document.getElementById('app')!);
