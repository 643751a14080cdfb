/**
 * Shares one run of an expensive idempotent action (an fsync) among callers. A caller that arrives
 * while a run is in progress waits for the next run, because the running one may have started before
 * the caller's write: every caller is covered by a run that began after it asked.
 */
export class Coalescer {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly action: () => Promise<void>) {}

  run(): Promise<void> {
    if (!this.running) return this.start();
    this.next ??= this.running
      .catch(() => {})
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const p = this.action().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }
}
