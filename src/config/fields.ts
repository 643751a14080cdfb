/**
 * Field types shared by the config schema's sections: listen addresses, and durations and sizes
 * parsed once ("30s" → 30000 ms, "50MB" → 52428800 bytes) into branded numbers.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration, parseSize } from '../lib/units.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** "0.0.0.0:25", "[::]:993", "127.0.0.1:0" (0 = any free port, for tests). */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (isIP(host) === 0 || port > 65535) return undefined;
  return { host, port };
}

export const listenList = (dflt: string[]) =>
  z
    .array(
      z.string().refine((s) => parseListenAddress(s) !== undefined, {
        message: 'is not "address:port" with an IP address (write "0.0.0.0:25", "[::]:25" or "127.0.0.1:2525")',
      }),
    )
    .default(dflt);

declare const unit: unique symbol;
/** A duration from the config file, parsed once by the schema ("30s" → 30000). */
export type Milliseconds = number & { readonly [unit]: 'ms' };
/** A size from the config file, parsed once by the schema ("50MB" → 52428800). */
export type Bytes = number & { readonly [unit]: 'bytes' };

/** A duration written "30s", "10m", "1h30m" in the file; a number of milliseconds in the parsed Config. */
export const duration = (dflt: string) =>
  z
    .string()
    .refine((s) => parseDuration(s) !== undefined, { message: 'is not a duration (write "30s", "10m", "1h")' })
    .transform((s) => parseDuration(s)! as Milliseconds)
    .prefault(dflt);

/** A size written "50MB", "2G" in the file; a number of bytes in the parsed Config. */
export const size = (dflt: string) =>
  z
    .string()
    .refine((s) => parseSize(s) !== undefined, { message: 'is not a size (write "50MB", "2G")' })
    .transform((s) => parseSize(s)! as Bytes)
    .prefault(dflt);
