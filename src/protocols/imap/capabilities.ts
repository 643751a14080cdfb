/**
 * The capability list (RFC 9051 §7.2.2) by state and TLS: before login it also says how a client may
 * log in, STARTTLS first (RFC 9051 §6.2.1) or LOGINDISABLED where plaintext login is off.
 */
import type { StateKind } from './commands/types.js';

export function capabilities(state: StateKind, isTls: boolean, allowPlaintextAuth: boolean): string[] {
  const caps = [
    'IMAP4rev1',
    'IMAP4rev2',
    'LITERAL+',
    'SASL-IR',
    'ID',
    'ENABLE',
    'IDLE',
    'NAMESPACE',
    'UNSELECT',
    'UIDPLUS',
    'MOVE',
    'CHILDREN',
    'LIST-EXTENDED',
    'LIST-STATUS',
    'SPECIAL-USE',
    'ESEARCH',
    'MULTIAPPEND',
    'BINARY',
    'UTF8=ACCEPT',
    'STATUS=SIZE',
  ];
  if (state === 'notAuthenticated') {
    if (!isTls) caps.push('STARTTLS');
    if (!isTls && !allowPlaintextAuth) caps.push('LOGINDISABLED');
    else caps.push('AUTH=PLAIN');
  }
  return caps;
}
