/** An inactivity timer for a session: each touch() restarts it; it fires once unless stopped. */
export class IdleTimer {
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number, onExpire: () => void) {
    this.timer = setTimeout(onExpire, ms);
    this.timer.unref();
  }

  touch(): void {
    this.timer.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
