// Sieve errors carry the position of the offending token (RFC 5804 §2.6: PUTSCRIPT and
// CHECKSCRIPT answer NO with a human-readable reason, which is where the line number goes).

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A script that does not lex, parse or validate: the message names line:column and what was expected. */
export class SieveSyntaxError extends Error {
  constructor(
    readonly position: Position,
    readonly reason: string,
  ) {
    super(`line ${position.line}:${position.column}: ${reason}`);
    this.name = "SieveSyntaxError";
  }
}

/** A run that stopped early (a limit, a runtime error): the caller falls back to implicit keep. */
export class SieveRuntimeError extends Error {
  constructor(
    readonly kind: "limit" | "runtime",
    message: string,
  ) {
    super(message);
    this.name = "SieveRuntimeError";
  }
}

/**
 * The duplicate test (RFC 7352) met a unique ID whose answer the run was not given: the caller
 * looks it up in the store and runs the (pure, deterministic) script again with the answer.
 */
export class DuplicateLookupNeeded extends Error {
  constructor(readonly key: string) {
    super("duplicate lookup needed");
    this.name = "DuplicateLookupNeeded";
  }
}
