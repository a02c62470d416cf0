// The three clocks that bound a client's time (config/limits.ts): idle (no input at all while a
// command is awaited), command (from the first byte of a command line to its CRLF, so a client
// trickling a byte every few seconds cannot hold a session open through the idle timer), and
// transaction (from MAIL FROM to the end of the message data, which bounds a slow DATA the same
// way). Each expiry calls the same handler; the session answers 421 4.4.2 and closes
// (RFC 5321 §4.5.3.2 lets a server time out and close).
import type { TimerHandle, Timers } from "./types.js";

export type DeadlineKind = "idle" | "command" | "transaction";

export class Deadlines {
  #idle: TimerHandle | null = null;
  #command: TimerHandle | null = null;
  #transaction: TimerHandle | null = null;

  constructor(
    private readonly timers: Timers,
    private readonly durations: Readonly<Record<DeadlineKind, number>>,
    private readonly onExpire: (kind: DeadlineKind) => void,
  ) {}

  /** Waiting for input: (re)starts the idle clock. */
  awaitInput(): void {
    this.#idle?.cancel();
    this.#idle = this.timers.set(this.durations.idle, () => this.#fire("idle"));
  }

  /** Busy with the client's input (store, auth): the client is not idle. */
  pauseIdle(): void {
    this.#idle?.cancel();
    this.#idle = null;
  }

  /** Part of a command line is buffered; starts the command clock unless it already runs. */
  commandStarted(): void {
    this.#command ??= this.timers.set(this.durations.command, () => this.#fire("command"));
  }

  commandFinished(): void {
    this.#command?.cancel();
    this.#command = null;
  }

  transactionStarted(): void {
    this.#transaction?.cancel();
    this.#transaction = this.timers.set(this.durations.transaction, () => this.#fire("transaction"));
  }

  transactionFinished(): void {
    this.#transaction?.cancel();
    this.#transaction = null;
  }

  cancelAll(): void {
    this.pauseIdle();
    this.commandFinished();
    this.transactionFinished();
  }

  #fire(kind: DeadlineKind): void {
    this.cancelAll();
    this.onExpire(kind);
  }
}
