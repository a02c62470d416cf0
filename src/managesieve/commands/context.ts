// What a ManageSieve command handler sees of its session (session.ts implements it), and the
// argument checks every handler shares. Handlers answer through the context and never touch the
// connection, so they can be driven by a fake session in tests.
import type { Account } from "../../store/index.js";
import type { SaslExchange } from "../../auth/index.js";
import type { Response } from "../protocol/response.js";
import type { Token } from "../protocol/reader.js";
import type { ManageSieveSessionOptions } from "../types.js";

export type SessionState = "unauthenticated" | "authenticated";

export interface ManageSieveContext {
  readonly options: ManageSieveSessionOptions;
  readonly state: SessionState;
  readonly tls: boolean;
  readonly account: Account | null;
  /** The capability lines for the session as it is now (RFC 5804 §1.7). */
  capabilities(): Buffer;
  reply(response: Response): Promise<void>;
  write(bytes: Buffer): Promise<void>;
  /** RFC 5804 §2.2: OK, the handshake, then the capabilities again. */
  startTls(): Promise<void>;
  /** The next line is the client's answer to a SASL challenge. */
  awaitSaslResponse(exchange: SaslExchange): void;
  /** One more failed AUTHENTICATE; the session ends with BYE past managesieve.max_auth_failures. */
  authenticationFailed(response: Response): Promise<void>;
  login(account: Account): void;
  /** UNAUTHENTICATE (RFC 5804 §2.14.1): back to the state after the greeting. */
  logout(): void;
  /** Answers, then closes the connection (LOGOUT). */
  closeAfter(response: Response): Promise<void>;
}

/**
 * A refusal a handler throws: the session answers it as a NO. A malformed command (`malformed`)
 * also counts toward managesieve.max_errors; a refusal of a well-formed one does not.
 */
export class ManageSieveError extends Error {
  constructor(
    readonly response: Response,
    readonly malformed = false,
  ) {
    super(response.text);
    this.name = "ManageSieveError";
  }
}

export interface CommandSpec {
  readonly states: readonly SessionState[];
  run(context: ManageSieveContext, args: readonly Token[]): Promise<void>;
}

type ArgKind = "string" | "number";
type ArgValue<K extends ArgKind> = K extends "string" ? Buffer : number;

/**
 * The arguments as the grammar of RFC 5804 §4 says (strings or numbers, in order); `optional`
 * trailing ones may be missing. A mismatch is a NO naming the command's syntax.
 */
export function expectArgs<const K extends readonly ArgKind[]>(
  args: readonly Token[],
  kinds: K,
  usage: string,
  optional = 0,
): { [I in keyof K]: ArgValue<K[I]> | undefined } {
  if (args.length > kinds.length || args.length < kinds.length - optional) throw new ManageSieveError({ status: "NO", code: null, text: `syntax: ${usage}` }, true);
  return kinds.map((kind, i) => {
    const arg = args[i];
    if (arg === undefined) return undefined;
    if (kind === "string" && arg.kind === "string") return arg.bytes;
    if (kind === "number" && arg.kind === "number") return arg.value;
    throw new ManageSieveError({ status: "NO", code: null, text: `syntax: ${usage}` }, true);
  }) as { [I in keyof K]: ArgValue<K[I]> | undefined };
}
