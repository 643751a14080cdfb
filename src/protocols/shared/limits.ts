/**
 * The one table of input and output limits for the protocols Postern speaks by hand (IMAP, POP3,
 * ManageSieve) and the SMTP limits smtp-server is configured with. Each protocol has one set of
 * limits before login and one after: before login nobody is known, so every byte is bounded to what
 * a login needs. docs/limits.md lists each value and why it was chosen; keep the two together.
 */

/** What one connection may send in one state, and how much of it is held before reading stops. */
export interface InputLimits {
  /** One line of a command, without its literals. */
  maxLineBytes: number;
  /** One literal ({n} / {n+}); for POP3, which has none, 0. */
  maxLiteralBytes: number;
  /** Lines plus literals of one command. */
  maxCommandBytes: number;
  /** Bytes read ahead of the running command (pipelined commands) before the socket stops being read. */
  maxBufferedBytes: number;
}

export interface SessionLimits {
  preAuth: InputLimits;
  authenticated: InputLimits;
  /** Invalid commands in a row before the connection is closed. */
  maxBadCommands: number;
  /**
   * Bytes of responses the socket may hold for a client that does not read: past this the session
   * waits for the client before it writes more or runs its next command.
   */
  maxQueuedResponseBytes: number;
  /** From connect to a successful login; the connection is closed after it (slowloris). */
  loginTimeoutMs: number;
  /** Silence after which a connection is closed. */
  idleTimeoutMs: number;
}

/** The settings from postern.toml that the tables below depend on. */
export interface LimitSettings {
  maxMessageBytes: number;
  loginTimeoutMs: number;
  idleTimeoutMs: number;
}

const KB = 1024;

/**
 * Before login a client needs one line and, for LOGIN/AUTHENTICATE, a literal the size of a user name
 * or password (auth/password.ts: 1,024 bytes at most): 8 KB covers both with room for SASL framing.
 */
const PRE_AUTH: InputLimits = {
  maxLineBytes: 8 * KB,
  maxLiteralBytes: 8 * KB,
  maxCommandBytes: 16 * KB,
  maxBufferedBytes: 16 * KB,
};

/** Invalid commands in a row before the connection is closed ([pop3] and [managesieve] max_bad_commands). */
const BAD_COMMANDS = 10;

/** Responses held for a client that does not read: a few FETCH items or a long listing. */
const MAX_QUEUED_RESPONSE_BYTES = 1024 * KB;

export function imapLimits(s: LimitSettings): SessionLimits {
  return {
    // ID (RFC 2971 §3.3) may send 30 fields of 1,024 octets before login: one line of up to ~32 KB.
    preAuth: { ...PRE_AUTH, maxLineBytes: 40 * KB, maxCommandBytes: 48 * KB },
    authenticated: {
      maxLineBytes: 64 * KB, // RFC 7162 §4: a server should accept lines of at least 8,192 octets; UID sets of large mailboxes need more
      maxLiteralBytes: s.maxMessageBytes, // APPEND of the largest message accepted over SMTP
      maxCommandBytes: s.maxMessageBytes + 64 * KB,
      maxBufferedBytes: 256 * KB,
    },
    maxBadCommands: BAD_COMMANDS,
    maxQueuedResponseBytes: MAX_QUEUED_RESPONSE_BYTES,
    loginTimeoutMs: s.loginTimeoutMs,
    idleTimeoutMs: s.idleTimeoutMs,
  };
}

/** RFC 2449 §4: POP3 commands are at most 255 octets; an AUTH PLAIN response line needs up to ~1.4 KB. */
export function pop3Limits(s: Omit<LimitSettings, 'maxMessageBytes'> & { maxBadCommands?: number }): SessionLimits {
  const input: InputLimits = {
    maxLineBytes: 2 * KB,
    maxLiteralBytes: 0,
    maxCommandBytes: 2 * KB,
    maxBufferedBytes: 16 * KB,
  };
  return {
    preAuth: input,
    authenticated: input,
    maxBadCommands: s.maxBadCommands ?? BAD_COMMANDS,
    maxQueuedResponseBytes: MAX_QUEUED_RESPONSE_BYTES,
    loginTimeoutMs: s.loginTimeoutMs,
    idleTimeoutMs: s.idleTimeoutMs,
  };
}

/** After login the largest literal is a script: the Sieve size limit plus room for PUTSCRIPT's name. */
export function manageSieveLimits(
  s: Omit<LimitSettings, 'maxMessageBytes'> & { maxScriptBytes: number; maxBadCommands?: number },
): SessionLimits {
  return {
    preAuth: PRE_AUTH,
    authenticated: {
      maxLineBytes: 8 * KB,
      maxLiteralBytes: s.maxScriptBytes + KB,
      maxCommandBytes: s.maxScriptBytes + 17 * KB,
      maxBufferedBytes: 64 * KB,
    },
    maxBadCommands: s.maxBadCommands ?? BAD_COMMANDS,
    maxQueuedResponseBytes: MAX_QUEUED_RESPONSE_BYTES,
    loginTimeoutMs: s.loginTimeoutMs,
    idleTimeoutMs: s.idleTimeoutMs,
  };
}

/**
 * SMTP: smtp-server frames the protocol (lines, DATA, the STARTTLS handover) with these bounds; the
 * refused-recipient limits are config fields ([smtp] max_refused_recipients …), enforced by
 * smtp/recipient-guard.ts and the session.
 */
export const SMTP_LIMITS = {
  /** RFC 5321 §4.5.3.1.4 asks for 512 octets; SMTPUTF8 and DSN parameters need more. */
  maxCommandBytes: 4 * KB,
  /** smtp-server closes the connection after this many unknown commands in a row (its own default, 10). */
  maxUnrecognizedCommands: 10,
} as const;
