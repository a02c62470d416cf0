// What a command handler may see and do in its session, and the contract each command declares:
// the states it is valid in (RFC 1939 §3: AUTHORIZATION, TRANSACTION; UPDATE is entered only by
// QUIT and takes no commands). Dispatch (pop3-session.ts) checks the state before run().
import type { SaslExchange } from "../../auth/index.js";
import type { Account } from "../../store/index.js";
import type { Maildrop } from "../maildrop.js";
import type { Pop3Command, Pop3Keyword, Pop3Response } from "../protocol/index.js";
import type { Pop3SessionOptions } from "../types.js";

export type Pop3State = "authorization" | "transaction";

export interface Pop3Context {
  readonly options: Pop3SessionOptions;
  readonly state: Pop3State;
  readonly tls: boolean;
  /** USER/PASS and plaintext SASL mechanisms may be used: TLS, or the operator allowed it. */
  readonly plaintextAuthAllowed: boolean;
  readonly account: Account | null;
  /** The snapshot; throws outside the TRANSACTION state (dispatch prevents that). */
  readonly maildrop: Maildrop;
  /** The name given by USER, waiting for PASS (RFC 1939 §7). */
  pendingUser: string | null;
  reply(response: Pop3Response): Promise<void>;
  replyLines(first: Pop3Response, lines: readonly string[]): Promise<void>;
  /** Raw bytes of a multi-line body already encoded (dot-stuffed) by the caller. */
  write(bytes: Buffer): Promise<void>;
  /** The next client line answers this SASL exchange instead of being a command. */
  awaitSaslResponse(exchange: SaslExchange): void;
  enterTransaction(account: Account, maildrop: Maildrop): void;
  startTls(): Promise<void>;
  quit(): Promise<void>;
}

export interface Pop3CommandSpec<K extends Pop3Keyword> {
  readonly states: readonly Pop3State[];
  run(context: Pop3Context, command: Extract<Pop3Command, { kind: K }>): Promise<void>;
}

export type Pop3CommandTable = { readonly [K in Pop3Keyword]: Pop3CommandSpec<K> };
