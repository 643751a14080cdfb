/**
 * What the engine clients (clamd, spamd, rspamd) share: reaching an engine by "host:port" or a unix
 * socket path, counting its checks and failures, and turning a client into a check of the filter
 * whose failures carry the running count into the filter's log line.
 */
import net from 'node:net';
import type { FilterInput, FilterSymbol, SpamCheck } from './types.js';

export class EngineError extends Error {
  override readonly name = 'EngineError';
}

/** Checks made and failed since start, per engine; the figures metrics will read. */
export class EngineStats {
  checks = 0;
  failures = 0;
  /** Counts one failure and returns the error to throw, naming the engine and the running count. */
  failed(engine: string, err: unknown): EngineError {
    this.failures += 1;
    const why = err instanceof Error ? err.message : String(err);
    const named = why.startsWith(engine) ? why : `${engine}: ${why}`;
    return new EngineError(`${named} (failure ${this.failures} of ${this.checks} checks since start)`, {
      cause: err,
    });
  }
}

/** Opens a connection to "host:port", "[v6]:port" or an absolute unix socket path. */
export function connectEngine(engine: string, address: string): net.Socket {
  if (address.startsWith('/')) return net.connect({ path: address });
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!m) throw new EngineError(`${engine} address "${address}" is not host:port or a socket path`);
  return net.connect({ host: m[1] ?? m[2]!, port: Number(m[3]) });
}

/** An engine client as a check of the filter: counted, and an engine (its failure takes the failure mode). */
export function engineCheck(
  name: string,
  stats: EngineStats,
  run: (input: FilterInput) => Promise<FilterSymbol[]>,
): SpamCheck & { readonly stats: EngineStats } {
  return {
    name,
    isEngine: true,
    stats,
    async check(input) {
      stats.checks += 1;
      try {
        return await run(input);
      } catch (err) {
        throw stats.failed(name, err);
      }
    },
  };
}
