// Injected timers, so session tests run deadlines without waiting.

import type { TimerHandle, Timers } from "../../net/index.js";
export { systemTimers, type TimerHandle, type Timers } from "../../net/index.js";

export type DeadlineKind = "idle" | "command";

/**
 * The session's one running deadline (RFC 9051 §5.4 autologout): "idle" restarts on every wait
 * for a command; "command" runs from a command's first byte to its last and is not restarted
 * by further bytes, so a client trickling bytes cannot hold the session.
 */
export class SessionDeadline {
  private current: { kind: DeadlineKind; handle: TimerHandle } | null = null;

  constructor(
    private readonly timers: Timers,
    private readonly onExpire: (kind: DeadlineKind) => void,
  ) {}

  get kind(): DeadlineKind | null {
    return this.current?.kind ?? null;
  }

  /** Starts `kind` (a running command deadline is kept), or stops the deadline with null. */
  set(kind: DeadlineKind | null, ms: number): void {
    if (kind === "command" && this.current?.kind === "command") return;
    this.cancel();
    if (kind === null) return;
    const handle = this.timers.set(ms, () => {
      this.current = null;
      this.onExpire(kind);
    });
    this.current = { kind, handle };
  }

  cancel(): void {
    this.current?.handle.cancel();
    this.current = null;
  }
}
