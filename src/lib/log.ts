/**
 * JSON-lines logger. One object per line: time, level, msg and the fields given; `child()` adds
 * fields (a connection's `cid`) to every line. Secret-looking fields are masked here, once, so a
 * careless call site cannot leak a password into the log.
 */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

export interface Logger {
  trace(fields: LogFields, msg: string): void;
  debug(fields: LogFields, msg: string): void;
  info(fields: LogFields, msg: string): void;
  warn(fields: LogFields, msg: string): void;
  error(fields: LogFields, msg: string): void;
  child(fields: LogFields): Logger;
}

const RANK: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: 100 };
const SECRET_KEY = /pass(word)?|secret|token|credential|^auth(data)?$|private/i;

export interface LogSink {
  write(line: string): void;
}

export function createLogger(options: { level?: LogLevel; sink?: LogSink; base?: LogFields } = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const sink = options.sink ?? { write: (line: string) => process.stderr.write(line) };
  return make(options.base ?? {});

  function make(base: LogFields): Logger {
    const emit = (level: Exclude<LogLevel, 'silent'>, fields: LogFields, msg: string): void => {
      if (RANK[level] < min) return;
      const record = { time: new Date().toISOString(), level, msg, ...base, ...mask(fields) };
      sink.write(JSON.stringify(record, replacer) + '\n');
    };
    return {
      trace: (f, m) => emit('trace', f, m),
      debug: (f, m) => emit('debug', f, m),
      info: (f, m) => emit('info', f, m),
      warn: (f, m) => emit('warn', f, m),
      error: (f, m) => emit('error', f, m),
      child: (fields) => make({ ...base, ...mask(fields) }),
    };
  }
}

function mask(fields: LogFields): LogFields {
  let out: LogFields | undefined;
  for (const key of Object.keys(fields)) {
    if (SECRET_KEY.test(key)) {
      out ??= { ...fields };
      out[key] = '***';
    }
  }
  return out ?? fields;
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code, stack: value.stack };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** A logger that drops everything: for tests and library use. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
