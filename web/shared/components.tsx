/** Components the admin UI and the account page share: quota bars, copy buttons, form fields, errors. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, formatBytes } from './api.js';

/** How much of a quota is used, as a bar with its numbers (a screen reader gets the numbers). */
export function QuotaBar({ used, quota }: { used: number; quota: number }) {
  const share = quota > 0 ? Math.min(1, used / quota) : 0;
  const label = quota > 0 ? `${formatBytes(used)} of ${formatBytes(quota)}` : `${formatBytes(used)}, no quota`;
  return (
    <div class="quota">
      <div
        class={`bar${share > 0.9 ? ' full' : ''}`}
        role="meter"
        aria-valuemin={0}
        aria-valuemax={quota || 1}
        aria-valuenow={quota > 0 ? used : 0}
        aria-label={label}
      >
        <span style={{ width: `${Math.round(share * 100)}%` }} />
      </div>
      <small>{label}</small>
    </div>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(text);
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return (
    <button type="button" class="secondary" aria-label={`Copy ${label}`} onClick={() => void copy()}>
      {done ? 'Copied' : 'Copy'}
    </button>
  );
}

export function Field(props: {
  label: string;
  name: string;
  type?: 'text' | 'password' | 'email';
  value: string;
  onInput: (value: string) => void;
  autoComplete?: string;
  required?: boolean;
  placeholder?: string;
}) {
  const id = `f-${props.name}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        // Preact's types tie each input type to its own attributes; these three take the same ones.
        type={(props.type ?? 'text') as 'text'}
        value={props.value}
        required={props.required ?? false}
        autoComplete={props.autoComplete ?? 'off'}
        placeholder={props.placeholder ?? ''}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
    </div>
  );
}

export function ErrorText({ error }: { error: string }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function Card({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section class="card" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** The login page of an app: address and password (and a two-factor code when asked for). */
export function LoginForm(props: {
  title: string;
  addressLabel: string;
  withTotp?: boolean;
  /** Shown for a 401: the credentials were wrong. */
  failedText: string;
  onSubmit: (input: { address: string; password: string; totp: string }) => Promise<void>;
}) {
  const [address, setAddress] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      await props.onSubmit({ address, password, totp });
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? props.failedText
          : err instanceof Error
            ? err.message
            : String(err),
      );
    }
  };
  return (
    <main class="login">
      <h1>{props.title}</h1>
      <form onSubmit={(e) => void submit(e)}>
        <Field
          label={props.addressLabel}
          name="address"
          value={address}
          onInput={setAddress}
          autoComplete="username"
          required
        />
        <Field
          label="Password"
          name="password"
          type="password"
          value={password}
          onInput={setPassword}
          autoComplete="current-password"
          required
        />
        {props.withTotp ? (
          <Field
            label="Two-factor code (if on)"
            name="totp"
            value={totp}
            onInput={setTotp}
            autoComplete="one-time-code"
            placeholder="123456"
          />
        ) : null}
        <ErrorText error={error} />
        <button type="submit">Log in</button>
      </form>
    </main>
  );
}
