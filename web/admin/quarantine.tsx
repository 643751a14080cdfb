/** Mail the content filter held: read it (as text, never rendered), release it to its recipient, or delete it. */
import { useState } from 'preact/hooks';
import { api, formatBytes, messageOf } from '../shared/api.js';
import { ErrorText } from '../shared/components.js';
import { useLoad } from '../shared/hooks.js';

interface Held {
  id: number;
  recipient: string;
  mailFrom: string;
  subject: string;
  reason: string;
  score: number | null;
  size: number;
  createdAt: string;
}

export function QuarantinePage() {
  const held = useLoad(() => api<{ items: Held[] }>('GET', '/quarantine?limit=500'), []);
  const [shown, setShown] = useState<{ id: number; content: string } | null>(null);
  const [error, setError] = useState('');
  const run = async (call: () => Promise<unknown>) => {
    setError('');
    try {
      await call();
      setShown(null);
      held.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const show = async (id: number) => {
    const m = await api<{ content: string }>('GET', `/quarantine/${id}`);
    setShown({ id, content: m.content });
  };
  return (
    <>
      <h1>Quarantine</h1>
      <ErrorText error={held.error || error} />
      {held.data?.items.length === 0 ? <p>Nothing is held.</p> : null}
      <table>
        <thead>
          <tr>
            <th scope="col">For</th>
            <th scope="col">From</th>
            <th scope="col">Subject</th>
            <th scope="col">Why</th>
            <th scope="col">Size</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {held.data?.items.map((m) => (
            <tr key={m.id}>
              <td>{m.recipient}</td>
              <td>{m.mailFrom || '<>'}</td>
              <td>{m.subject}</td>
              <td>{m.reason}</td>
              <td>{formatBytes(m.size)}</td>
              <td class="actions">
                <button type="button" class="secondary" onClick={() => void show(m.id)}>
                  Show
                </button>
                <button type="button" onClick={() => void run(() => api('POST', `/quarantine/${m.id}/release`))}>
                  Release
                </button>
                <button
                  type="button"
                  class="danger"
                  onClick={() => void run(() => api('DELETE', `/quarantine/${m.id}`))}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown ? (
        <section class="card" aria-label="Held message">
          <h2>Message {shown.id}</h2>
          <pre class="source">{shown.content}</pre>
        </section>
      ) : null}
    </>
  );
}
