/**
 * Connection-level commands: CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), STARTTLS, LOGIN, AUTHENTICATE
 * PLAIN with SASL-IR (RFC 4959), ENABLE (RFC 5161), NAMESPACE (RFC 2342).
 */
import { isMailError } from '../../../lib/errors.js';
import { decodeSaslPlain, isSameIdentity } from '../../shared/sasl.js';
import { ImapNo } from '../errors.js';
import { atom } from '../respond.js';
import { astring, ImapSyntaxError } from '../wire.js';
import { ANY, AUTHED, ok, type ImapCommand, type ImapContext } from './types.js';

const ENABLEABLE = new Set(['IMAP4REV2', 'UTF8=ACCEPT']);

async function authenticate(s: ImapContext, username: string, password: string) {
  try {
    const user = await s.deps.auth.authenticate(username, password, { ip: s.conn.remoteAddress, protocol: 'imap' });
    s.login(user);
    return ok('Logged in', `CAPABILITY ${s.capabilities().join(' ')}`);
  } catch (err) {
    if (isMailError(err, 'AUTH_LOCKED')) throw new ImapNo('Too many failed logins, try again later', 'UNAVAILABLE');
    if (isMailError(err, 'AUTH_FAILED')) throw new ImapNo('Authentication failed', 'AUTHENTICATIONFAILED');
    throw err;
  }
}

function requireTls(s: ImapContext): void {
  if (!s.mayLogin) throw new ImapNo('Use STARTTLS before logging in', 'PRIVACYREQUIRED');
}

export const SESSION_COMMANDS: ImapCommand[] = [
  {
    name: 'CAPABILITY',
    states: ANY,
    async run(s) {
      s.untagged(atom(`CAPABILITY ${s.capabilities().join(' ')}`));
      return ok('CAPABILITY completed');
    },
  },
  { name: 'NOOP', states: ANY, run: async () => ok('NOOP completed') },
  { name: 'CHECK', states: ['selected'], run: async () => ok('CHECK completed') },
  {
    name: 'LOGOUT',
    states: ANY,
    async run(s, _args, _uid, tag) {
      s.untagged(atom('BYE Logging out'));
      s.complete(tag, ok('LOGOUT completed'));
      s.logout();
      s.close();
      return { status: 'NONE', text: '' };
    },
  },
  {
    name: 'ID',
    states: ANY,
    async run(s) {
      s.untagged(atom('ID'), ['name', 'Postern', 'vendor', 'Postern']);
      return ok('ID completed');
    },
  },
  {
    name: 'STARTTLS',
    states: ['notAuthenticated'],
    async run(s, args, _uid, tag) {
      if (args.length) throw new ImapSyntaxError('STARTTLS takes no arguments');
      if (s.conn.isTls) throw new ImapSyntaxError('TLS is already active');
      s.complete(tag, ok('Begin TLS negotiation now'));
      await s.startTls();
      return { status: 'NONE', text: '' };
    },
  },
  {
    name: 'LOGIN',
    states: ['notAuthenticated'],
    async run(s, args) {
      if (args.length !== 2) throw new ImapSyntaxError('LOGIN needs a user name and a password');
      requireTls(s);
      return authenticate(s, astring(args[0]), astring(args[1]));
    },
  },
  {
    name: 'AUTHENTICATE',
    states: ['notAuthenticated'],
    async run(s, args) {
      const mech = astring(args[0]).toUpperCase();
      if (mech !== 'PLAIN') throw new ImapNo(`Mechanism ${mech.slice(0, 20)} is not supported`, 'CANNOT');
      requireTls(s);
      let response = args[1] ? astring(args[1]) : undefined; // SASL-IR (RFC 4959)
      if (response === undefined) {
        s.write('+ \r\n');
        response = (await s.nextLine()).trim();
      }
      if (response === '*') throw new ImapSyntaxError('AUTHENTICATE cancelled');
      const plain = decodeSaslPlain(response === '=' ? '' : response);
      if (!plain.ok) {
        s.log.info({ reason: plain.reason }, 'imap AUTHENTICATE refused');
        throw new ImapSyntaxError(plain.reason);
      }
      if (!isSameIdentity(plain.value)) throw new ImapNo('Authorization identity must match', 'AUTHORIZATIONFAILED');
      const { authcid, password } = plain.value;
      return authenticate(s, authcid, password);
    },
  },
  {
    name: 'ENABLE',
    states: AUTHED,
    async run(s, args) {
      if (!args.length) throw new ImapSyntaxError('ENABLE needs capabilities');
      const enabled: string[] = [];
      for (const a of args) {
        const cap = astring(a).toUpperCase();
        if (ENABLEABLE.has(cap) && !s.enabled.has(cap)) {
          s.enabled.add(cap);
          enabled.push(cap === 'IMAP4REV2' ? 'IMAP4rev2' : cap);
        }
      }
      s.untagged(atom(['ENABLED', ...enabled].join(' ')));
      return ok('ENABLE completed');
    },
  },
  {
    name: 'NAMESPACE',
    states: AUTHED,
    async run(s) {
      s.untagged(atom('NAMESPACE'), [['', '/']], null, null);
      return ok('NAMESPACE completed');
    },
  },
];
