// One info line per -ERR a client caused (a syntax error, a command in the wrong state, a failed
// login, a message that does not exist), with the session id, so a postmaster can see from the
// server's log why a mail app fails. Rate-limited per session: a client looping on a bad command
// must not fill the disk, so after `burst` lines in one window the rest are counted and reported
// as one line when the window ends (or the session does). Never the command's arguments: PASS
// and AUTH carry secrets.
import type { Logger } from "../observability/log.js";
import type { Pop3Response } from "./protocol/index.js";

export interface ClientErrorLogOptions {
  readonly log: Logger;
  readonly session: string;
  /** Milliseconds since any epoch; the session's clock. */
  readonly now: () => number;
  /** Lines written per window before the rest are only counted. */
  readonly burst?: number;
  readonly windowMs?: number;
}

/** -ERR codes that report the server's own trouble (RFC 3206 §4): logged where they arise, at error. */
const SERVER_SIDE = new Set(["SYS/TEMP", "SYS/PERM"]);

export class ClientErrorLog {
  readonly #options: ClientErrorLogOptions;
  readonly #burst: number;
  readonly #windowMs: number;
  #windowStart = -Infinity;
  #written = 0;
  #suppressed = 0;

  constructor(options: ClientErrorLogOptions) {
    this.#options = options;
    this.#burst = options.burst ?? 10;
    this.#windowMs = options.windowMs ?? 60_000;
  }

  /** Called for every response sent; logs the ones that are a client's error. */
  note(response: Pop3Response, command: string | null, state: string): void {
    if (response.ok || (response.code !== null && SERVER_SIDE.has(response.code))) return;
    const now = this.#options.now();
    if (now - this.#windowStart >= this.#windowMs) {
      this.flush();
      this.#windowStart = now;
      this.#written = 0;
    }
    if (this.#written >= this.#burst) {
      this.#suppressed++;
      return;
    }
    this.#written++;
    this.#options.log.info("pop3.client_error", { session: this.#options.session, command, state, code: response.code, reply: response.text });
  }

  /** Reports what was counted and not written; at the end of a window and of the session. */
  flush(): void {
    if (this.#suppressed === 0) return;
    this.#options.log.info("pop3.client_errors_suppressed", { session: this.#options.session, count: this.#suppressed });
    this.#suppressed = 0;
  }
}
