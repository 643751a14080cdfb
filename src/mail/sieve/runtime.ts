/**
 * What bounds a Sieve run (RFC 5228 §2.10.6): the run-time error that makes the caller file the message
 * as if no script ran, and the budget of work one run may do.
 */

/** A run-time error (RFC 5228 §2.10.6): the caller files the message as if no script ran. */
export class SieveRuntimeError extends Error {
  override readonly name = 'SieveRuntimeError';
}

/**
 * Work one run may do, in characters compared (and :matches steps): about a few hundred
 * milliseconds. A script that needs more for a message is a run-time error (the message is kept),
 * as Pigeonhole's sieve_max_cpu_time does; without it, one script and one large message could
 * stall the whole server.
 */
export const MAX_RUN_COST = 50_000_000;

/** What is left of MAX_RUN_COST for one run; shared by every comparison of the run. */
export interface RunBudget {
  left: number;
}
