/** JMAP clients for the tests: jmap-jam logged in with an app password's bearer token from the admin API. */
import assert from 'node:assert/strict';
import JamClient from 'jmap-jam';

export interface Login {
  user: string;
  password: string;
}

export const basic = (u: Login) => `Basic ${Buffer.from(`${u.user}:${u.password}`).toString('base64')}`;

/** `base`: https://127.0.0.1:port of the server. */
export async function jamClient(base: string, login: Login): Promise<JamClient> {
  const made = await fetch(`${base}/api/v1/me/app-passwords`, {
    method: 'POST',
    headers: { authorization: basic(login), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'jmap test client' }),
  });
  assert.equal(made.status, 201);
  const { token } = (await made.json()) as { token: string };
  return new JamClient({ sessionUrl: `${base}/.well-known/jmap`, bearerToken: token });
}
