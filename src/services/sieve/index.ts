/**
 * Sieve scripts: storage and activation for ManageSieve (RFC 5804), with every script compiled before
 * it is stored so a broken one is refused with its line number; and the compiled active script of an
 * account, cached by its change time, for delivery.
 */
import { MailError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { headerValues } from '../../mail/mime/headers.js';
import type { BodyPart, ParsedMessage } from '../../mail/mime/structure.js';
import { decodeBody, decodeWords } from '../../mail/mime/text.js';
import { compileScript, SieveError, SIEVE_EXTENSIONS, type CompiledScript } from '../../mail/sieve/compile.js';
import {
  MAX_BODY_SCAN,
  runScript,
  SieveRuntimeError,
  type SieveAction,
  type SieveMessage,
} from '../../mail/sieve/interpret.js';
import { decidesVerdict } from '../../mail/sieve/spamtest.js';
import type { SieveScriptRecord, Store } from '../../store/index.js';

export type { SieveAction } from '../../mail/sieve/interpret.js';

/** What a script sees of one message for one recipient. */
export interface SieveInput {
  content: Buffer;
  parsed: ParsedMessage;
  /** Envelope sender ('' for the null sender) and the address the message came to. */
  envelope: { from: string; to: string };
  /** Mailboxes of the account, for mailboxexists: asked for only when a script is active. */
  mailboxes: () => Promise<ReadonlySet<string>>;
  /** The decoded text of the message (the full-text index's), for body :text. */
  text: () => string;
}

export interface SieveLimits {
  /** Largest script accepted; larger ones get QUOTA/MAXSIZE (RFC 5804 §1.3). */
  maxScriptBytes: number;
  /** Scripts per account (QUOTA/MAXSCRIPTS). */
  maxScripts: number;
  /** Redirects one script may perform for one message (Dovecot's sieve_max_redirects). */
  maxRedirects: number;
}

/** The defaults of [managesieve] in postern.toml (max_script_size, max_scripts, max_redirects). */
export const SIEVE_LIMITS: SieveLimits = { maxScriptBytes: 128 * 1024, maxScripts: 64, maxRedirects: 4 };
const MAX_ACTIONS = 32;

/** The script would exceed a limit: RFC 5804 §1.3 response codes QUOTA/MAXSIZE and QUOTA/MAXSCRIPTS. */
export class SieveQuotaError extends MailError {
  constructor(
    readonly quota: 'maxsize' | 'maxscripts',
    message: string,
  ) {
    super('OVER_QUOTA', message);
  }
}

/** RFC 5804 §1.6: a script name is 1–128 Unicode characters, no controls (Dovecot's rule). */
export function validScriptName(name: string): boolean {
  return name.length > 0 && [...name].length <= 128 && !/[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029/]/.test(name);
}

export class SieveScripts {
  private readonly compiled = new Map<
    number,
    { updatedAt: number; name: string; script: CompiledScript | undefined }
  >();

  constructor(private readonly deps: { store: Store; log: Logger; limits: SieveLimits }) {}

  get limits(): SieveLimits {
    return this.deps.limits;
  }

  /** The SIEVE capability: the extensions a script may `require`. */
  extensions(): string[] {
    return [...SIEVE_EXTENSIONS];
  }

  /** Compiles without storing (CHECKSCRIPT); throws SieveError with the line of the first error. */
  check(content: string): CompiledScript {
    if (Buffer.byteLength(content) > this.deps.limits.maxScriptBytes)
      throw new SieveQuotaError('maxsize', `script larger than ${this.deps.limits.maxScriptBytes} bytes`);
    return compileScript(content);
  }

  /** HAVESPACE: throws SieveQuotaError when storing `size` bytes as `name` would exceed a limit. */
  async haveSpace(accountId: number, name: string, size: number): Promise<void> {
    if (size > this.deps.limits.maxScriptBytes)
      throw new SieveQuotaError('maxsize', `script larger than ${this.deps.limits.maxScriptBytes} bytes`);
    const scripts = await this.deps.store.sieve.list(accountId);
    if (!scripts.some((s) => s.name === name) && scripts.length >= this.deps.limits.maxScripts) {
      throw new SieveQuotaError('maxscripts', `at most ${this.deps.limits.maxScripts} scripts per account`);
    }
  }

  list(accountId: number): ReturnType<Store['sieve']['list']> {
    return this.deps.store.sieve.list(accountId);
  }

  async get(accountId: number, name: string): Promise<SieveScriptRecord> {
    const script = await this.deps.store.sieve.get(accountId, name);
    if (!script) throw new MailError('NOT_FOUND', `no script named ${name}`);
    return script;
  }

  /** PUTSCRIPT: compiled first (SieveError), within the limits (SieveQuotaError), then stored. */
  async put(accountId: number, name: string, content: string): Promise<void> {
    if (!validScriptName(name)) throw new MailError('INVALID_INPUT', 'invalid script name');
    await this.haveSpace(accountId, name, Buffer.byteLength(content));
    this.check(content);
    await this.deps.store.sieve.put(accountId, name, content);
    this.deps.log.info({ accountId, script: name, size: Buffer.byteLength(content) }, 'sieve script stored');
  }

  /** DELETESCRIPT: NOT_FOUND when absent; false (and nothing deleted) when the script is active. */
  remove(accountId: number, name: string): Promise<boolean> {
    return this.deps.store.sieve.remove(accountId, name);
  }

  async rename(accountId: number, from: string, to: string): Promise<void> {
    if (!validScriptName(to)) throw new MailError('INVALID_INPUT', 'invalid script name');
    await this.deps.store.sieve.rename(accountId, from, to);
  }

  /** SETACTIVE: `null` (the empty name) deactivates. */
  async setActive(accountId: number, name: string | null): Promise<void> {
    await this.deps.store.sieve.setActive(accountId, name);
    this.deps.log.info(
      { accountId, script: name },
      name === null ? 'sieve scripts deactivated' : 'sieve script activated',
    );
  }

  /** The compiled active script of an account; undefined when none is active or it no longer compiles. */
  async active(accountId: number): Promise<{ name: string; script: CompiledScript } | undefined> {
    const record = await this.deps.store.sieve.active(accountId);
    if (!record) {
      this.compiled.delete(accountId);
      return undefined;
    }
    let cached = this.compiled.get(accountId);
    if (!cached || cached.updatedAt !== record.updatedAt.getTime() || cached.name !== record.name) {
      let script: CompiledScript | undefined;
      try {
        script = compileScript(record.content);
      } catch (err) {
        // Scripts are compiled when stored; one that no longer compiles leaves delivery to the implicit keep.
        this.deps.log.warn(
          { accountId, script: record.name, err: err instanceof SieveError ? err.message : err },
          'active sieve script does not compile; keeping mail in INBOX',
        );
      }
      cached = { updatedAt: record.updatedAt.getTime(), name: record.name, script };
      this.compiled.set(accountId, cached);
    }
    return cached.script && { name: cached.name, script: cached.script };
  }

  /**
   * Runs the account's active script: its actions, or undefined when no script is active. A run-time
   * error (RFC 5228 §2.10.6) files the message as if no script had run. `decidesVerdict`: the script
   * requires spamtest, spamtestplus or virustest (RFC 5235), so it, not the global Junk rule, decides
   * where filtered mail goes.
   */
  async evaluate(
    accountId: number,
    input: SieveInput,
  ): Promise<{ script: string; actions: SieveAction[]; decidesVerdict: boolean } | undefined> {
    const active = await this.active(accountId);
    if (!active) return undefined;
    const message = sieveMessage(input, await input.mailboxes());
    try {
      return {
        script: active.name,
        actions: runScript(active.script, message, {
          maxRedirects: this.deps.limits.maxRedirects,
          maxActions: MAX_ACTIONS,
        }),
        decidesVerdict: decidesVerdict(active.script.requires),
      };
    } catch (err) {
      if (!(err instanceof SieveRuntimeError)) throw err;
      this.deps.log.warn(
        { accountId, script: active.name, err: err.message },
        'sieve run-time error; keeping mail in INBOX',
      );
      return { script: active.name, actions: [{ type: 'keep', flags: [] }], decidesVerdict: false };
    }
  }
}

/**
 * Characters of one header value a script sees. Decoding is done once per field and run (a script
 * may test a field a hundred times), and only this much of it, so a message with a megabyte-long
 * Subject costs a script no more than a normal one (RFC 5228 §2.10.6 lets an implementation bound it).
 */
const MAX_SIEVE_HEADER_CHARS = 64 * 1024;

function sieveMessage(input: SieveInput, mailboxes: ReadonlySet<string>): SieveMessage {
  const { content, parsed } = input;
  let raw: string | undefined;
  const lowerBoxes = new Set([...mailboxes].map((m) => (m.toUpperCase() === 'INBOX' ? 'INBOX' : m)));
  const decoded = new Map<string, string[]>();
  const contentParts = new Map<string, string[]>();
  return {
    header: (name) => {
      const key = name.toLowerCase();
      let values = decoded.get(key);
      if (!values) {
        values = headerValues(parsed.headers, key).map((v) =>
          decodeWords(v.slice(0, 4 * MAX_SIEVE_HEADER_CHARS)).slice(0, MAX_SIEVE_HEADER_CHARS),
        );
        decoded.set(key, values);
      }
      return values;
    },
    envelope: input.envelope,
    size: content.length,
    mailboxExists: (name) => lowerBoxes.has(name.toUpperCase() === 'INBOX' ? 'INBOX' : name),
    body: (transform) => {
      // RFC 5173 §5: :raw is the undecoded body, :text the decoded text, :content the parts of those
      // types; each at most MAX_BODY_SCAN characters.
      if (transform.kind === 'raw')
        return [
          (raw ??= content
            .subarray(parsed.structure.bodyStart, parsed.structure.bodyStart + MAX_BODY_SCAN)
            .toString('utf8')),
        ];
      if (transform.kind === 'text') return [input.text()];
      const cacheKey = transform.types.map((t) => t.toLowerCase()).join('\0');
      const cached = contentParts.get(cacheKey);
      if (cached) return cached;
      const out: string[] = [];
      const walk = (part: BodyPart) => {
        const type = `${part.type}/${part.subtype}`.toLowerCase();
        const wanted = transform.types.some(
          (t) => t === '' || t.toLowerCase() === type || t.toLowerCase() === part.type.toLowerCase(),
        );
        if (part.children.length && part.type !== 'message') {
          part.children.forEach(walk);
          return;
        }
        if (wanted)
          out.push(
            decodeBody(
              content.subarray(part.bodyStart, Math.min(part.end, part.bodyStart + 4 * MAX_BODY_SCAN)),
              part.encoding,
              part.params.charset ?? 'us-ascii',
            ).slice(0, MAX_BODY_SCAN),
          );
      };
      walk(parsed.structure);
      contentParts.set(cacheKey, out);
      return out;
    },
  };
}
