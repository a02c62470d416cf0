// RFC 2177 IDLE: `+ idling`, then every change of the selected mailbox at once (EXPUNGE included,
// RFC 9051 §7.4.1), until the client's DONE line. The session lends the few operations it needs;
// a read in flight survives each wake-up by the change feed, so no client byte is read twice.
import { ImapError } from "../commands/imap-error.js";
import type { ReaderEvent } from "../protocol/command-reader.js";
import { continuationLine } from "../protocol/response.js";

export interface IdleHost {
  /** Sends the selected mailbox's pending untagged updates, EXPUNGE included. */
  flush(): Promise<void>;
  write(bytes: Buffer): Promise<void>;
  /** The change feed reported a commit for the selected mailbox since the last flush. */
  dirty(): boolean;
  /** The client's next line (the same pending read until lineTaken()); null at EOF. */
  nextLine(): Promise<ReaderEvent | null>;
  lineTaken(): void;
  /** Registers the change feed's wake-up (null to clear it). */
  onWake(wake: (() => void) | null): void;
}

/** Resolves true on DONE, false when the client left instead; anything else is BAD. */
export async function idleUntilDone(host: IdleHost): Promise<boolean> {
  await host.flush();
  await host.write(continuationLine("idling"));
  try {
    for (;;) {
      if (host.dirty()) await host.flush();
      const pending = host.nextLine();
      const woken = new Promise<"woken">((resolve) => host.onWake(() => resolve("woken")));
      const outcome = await Promise.race([pending, woken]);
      host.onWake(null);
      if (outcome === "woken") continue;
      host.lineTaken();
      if (outcome === null) return false;
      if (outcome.kind === "line" && outcome.line.toString("latin1").toUpperCase() === "DONE") return true;
      throw ImapError.bad(null, "expected DONE");
    }
  } finally {
    host.onWake(null);
  }
}
