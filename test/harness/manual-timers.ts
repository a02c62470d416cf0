// Timers that fire only when a test says time has passed: session deadlines without waiting.
import type { TimerHandle, Timers } from "../../src/net/index.js";

export class ManualTimers implements Timers {
  now = 0;
  readonly #pending = new Set<{ due: number; fire: () => void }>();

  set(ms: number, onExpire: () => void): TimerHandle {
    const entry = { due: this.now + ms, fire: onExpire };
    this.#pending.add(entry);
    return { cancel: () => this.#pending.delete(entry) };
  }

  advance(ms: number): void {
    this.now += ms;
    for (const entry of [...this.#pending].sort((a, b) => a.due - b.due)) {
      if (entry.due <= this.now && this.#pending.delete(entry)) entry.fire();
    }
  }
}
