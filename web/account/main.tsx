/**
 * The account owner's page at https://<hostname>/account/ (the API's /me): mailbox use, the vacation
 * reply, forwarding and filters (rules.tsx), the password, and app passwords for mail clients. Logs
 * in with the account's own address and password (HTTP Basic, held in memory for this tab only).
 */
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { api, setBasicAuth, messageOf } from '../shared/api.js';
import { Card, CopyButton, ErrorText, Field, LoginForm, QuotaBar } from '../shared/components.js';
import { useLoad } from '../shared/hooks.js';
import { AppPasswords, PasswordCard } from './cards.js';
import { MailRules } from './rules.js';
import '../shared/style.css';

interface Me {
  address: string;
  quotaBytes: number;
  usedBytes: number;
  appPasswords: number;
}

function Login({ onLogin }: { onLogin: (me: Me, address: string) => void }) {
  return (
    <LoginForm
      title="Your mail account"
      addressLabel="Mail address"
      failedText="Wrong address or password."
      onSubmit={async ({ address, password }) => {
        setBasicAuth(address, password);
        try {
          onLogin(await api<Me>('GET', '/me'), address);
        } catch (err) {
          setBasicAuth('', '');
          throw err;
        }
      }}
    />
  );
}

function App() {
  const [me, setMe] = useState<{ me: Me; address: string } | null>(null);
  if (!me) return <Login onLogin={(m, address) => setMe({ me: m, address })} />;
  return (
    <>
      <header>
        <strong>Postern</strong>
        <span class="who">{me.address}</span>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            setBasicAuth('', '');
            setMe(null);
          }}
        >
          Log out
        </button>
      </header>
      <main>
        <h1>Your account</h1>
        <Card title="Mailbox">
          <QuotaBar used={me.me.usedBytes} quota={me.me.quotaBytes} />
        </Card>
        <MailRules />
        <PasswordCard address={me.address} onChanged={(password) => setBasicAuth(me.address, password)} />
        <AppPasswords />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
