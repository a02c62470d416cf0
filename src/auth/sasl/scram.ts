// SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677) and their -PLUS forms with channel binding
// (RFC 5802 §6: tls-server-end-point, RFC 5929 §4; tls-exporter, RFC 9266), server side.
//
// Exchange, as every protocol frames it (RFC 4954 §4 has no "additional data with success", so
// server-final goes out as one more challenge and the client answers it with an empty response):
//   C: client-first   n,,n=user,r=cnonce               (gs2 header + bare message)
//   S: server-first   r=cnonce+snonce,s=salt,i=4096    (after the account's keys are looked up)
//   C: client-final   c=biws,r=cnonce+snonce,p=proof
//   S: server-final   v=signature                      (only after the proof checked out)
//   C: (empty)
// The mechanism checks the proof itself; every outcome, good or bad, ends as `done` with
// credentials of kind "scram" so the Authenticator counts it in the failure throttle and logs it
// like a PLAIN login (authenticator.ts). Sans-IO apart from the key lookup it is handed.
import { randomBytes } from "node:crypto";
import { isUtf8 } from "node:buffer";
import { digest, hashLength, hmac, sameBytes, xor } from "../scram-keys.js";
import type { ScramHash } from "../scram-keys.js";
import type { SaslLimits, SaslMechanism, SaslMechanismDescriptor, SaslScramCredentials, SaslStep, ScramFailure } from "./mechanism.js";

export type ChannelBindingType = "tls-exporter" | "tls-server-end-point";

/** The link's channel-binding data; null on a link without TLS. */
export type ChannelBindings = Partial<Record<ChannelBindingType, Buffer>>;

/** One stored secret's keys: the main password, or one app password. */
export interface ScramKeyEntry {
  storedKey: Buffer;
  serverKey: Buffer;
  /** Which secret it is, handed back on success: "password" or "app:<id>". */
  credential: string;
  /**
   * Which version of that secret the keys belong to (the main password's hash tag,
   * credentials.ts passwordHashTag), handed back on success so the Authenticator can check at
   * client-final that the secret did not change while the exchange was open.
   */
  tag?: string;
}

export type ScramLookup =
  /** keys may be empty: an unknown user, or no keys yet; the exchange then runs to a failed proof. */
  | { kind: "credentials"; salt: Buffer; iterations: number; keys: ScramKeyEntry[]; accountId?: number }
  /** The attempt is refused before any challenge: the throttle, or the store being down. */
  | { kind: "refused"; reason: "throttled" | "temporary-failure" };

export interface ScramServerContext {
  lookup(authcid: string, hash: ScramHash): Promise<ScramLookup>;
  /** null without TLS; a missing type is one the link cannot provide (tls-exporter needs TLS 1.3). */
  channelBindings: ChannelBindings | null;
  /** Test hook: the server nonce. */
  serverNonce?: () => string;
}

/** The gs2 header's channel-binding flag (RFC 5802 §7 gs2-cbind-flag). */
type CbindFlag = { kind: "n" } | { kind: "y" } | { kind: "p"; name: string };

interface ClientFirst {
  gs2Header: string;
  flag: CbindFlag;
  authzid: string | null;
  username: string;
  clientNonce: string;
  bare: string;
}

type ScramState =
  | { phase: "client-first" }
  | { phase: "client-final"; first: ClientFirst; serverFirst: string; nonce: string; lookup: Extract<ScramLookup, { kind: "credentials" }> }
  | { phase: "acknowledge"; credentials: SaslScramCredentials }
  | { phase: "finished" };

/** Printable ASCII except ',' (RFC 5802 §7 "printable"). */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Client nonces longer than this are refused: their bytes are echoed and hashed. */
const MAX_NONCE_CHARS = 256;

/**
 * Decodes a saslname (RFC 5802 §5.1): "=2C" is ',', "=3D" is '='; any other '=' is malformed.
 * Returns null when malformed.
 */
export function decodeSaslName(text: string): string | null {
  if (text.includes(",")) return null;
  let out = "";
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i]!;
    if (ch !== "=") {
      out += ch;
      continue;
    }
    const code = text.slice(i + 1, i + 3);
    if (code === "2C") out += ",";
    else if (code === "3D") out += "=";
    else return null;
    i += 2;
  }
  return out;
}

export function encodeSaslName(name: string): string {
  return name.replaceAll("=", "=3D").replaceAll(",", "=2C");
}

/** Parses client-first-message (RFC 5802 §7), or names what is wrong with it. */
export function parseClientFirst(message: string, limits: SaslLimits): ClientFirst | { error: ScramFailure } {
  // gs2-header = gs2-cbind-flag "," [ authzid ] ","
  const firstComma = message.indexOf(",");
  if (firstComma < 0) return { error: "malformed" };
  const flagText = message.slice(0, firstComma);
  let flag: CbindFlag;
  if (flagText === "n") flag = { kind: "n" };
  else if (flagText === "y") flag = { kind: "y" };
  else if (flagText.startsWith("p=") && /^[A-Za-z0-9.-]+$/.test(flagText.slice(2))) flag = { kind: "p", name: flagText.slice(2) };
  else return { error: "malformed" };
  const secondComma = message.indexOf(",", firstComma + 1);
  if (secondComma < 0) return { error: "malformed" };
  const authzidText = message.slice(firstComma + 1, secondComma);
  let authzid: string | null = null;
  if (authzidText !== "") {
    if (!authzidText.startsWith("a=")) return { error: "malformed" };
    authzid = decodeSaslName(authzidText.slice(2));
    if (authzid === null || authzid === "") return { error: "malformed" };
  }
  const gs2Header = message.slice(0, secondComma + 1);
  const bare = message.slice(secondComma + 1);
  const attributes = bare.split(",");
  // RFC 5802 §5.1: "m" is reserved for a future mandatory extension; the server must fail on it.
  if (attributes[0]?.startsWith("m=")) return { error: "extensions-not-supported" };
  const [userPart, noncePart] = attributes;
  if (!userPart?.startsWith("n=") || !noncePart?.startsWith("r=")) return { error: "malformed" };
  const username = decodeSaslName(userPart.slice(2));
  if (username === null || username === "") return { error: "malformed" };
  if (Buffer.byteLength(username, "utf8") > limits.maxIdentityBytes) return { error: "malformed" };
  const clientNonce = noncePart.slice(2);
  if (!NONCE.test(clientNonce) || clientNonce.length > MAX_NONCE_CHARS) return { error: "malformed" };
  // Optional extensions after the nonce: "x=..." attribute-value pairs, ignored (RFC 5802 §5.1).
  for (const extension of attributes.slice(2)) if (!/^[A-Za-z]=/.test(extension)) return { error: "malformed" };
  return { gs2Header, flag, authzid, username, clientNonce, bare };
}

class ScramMechanism implements SaslMechanism {
  private state: ScramState = { phase: "client-first" };

  constructor(
    readonly name: string,
    private readonly hash: ScramHash,
    private readonly plus: boolean,
    private readonly limits: SaslLimits,
    private readonly context: ScramServerContext,
  ) {}

  start(initialResponse: Buffer | null): SaslStep | Promise<SaslStep> {
    // RFC 5802 §5: the client sends first; without an initial response, an empty challenge asks for it.
    if (initialResponse === null) return { kind: "challenge", challenge: Buffer.alloc(0) };
    return this.next(initialResponse);
  }

  async next(response: Buffer): Promise<SaslStep> {
    const state = this.state;
    this.state = { phase: "finished" };
    switch (state.phase) {
      case "client-first":
        return this.clientFirst(response);
      case "client-final":
        return this.clientFinal(response, state);
      case "acknowledge":
        // The client's answer to server-final carries nothing (RFC 4422 §5 "empty response").
        if (response.length !== 0) return this.fail(state.credentials.authcid, state.credentials.authzid, "malformed");
        return { kind: "done", credentials: state.credentials };
      case "finished":
        return { kind: "error", reason: "unexpected-response" };
    }
  }

  private fail(authcid: string, authzid: string | null, reason: ScramFailure): SaslStep {
    return { kind: "done", credentials: { kind: "scram", mechanism: this.name, authcid, authzid, credential: null, failure: reason } };
  }

  private async clientFirst(response: Buffer): Promise<SaslStep> {
    if (!isUtf8(response)) return this.fail("", null, "malformed");
    const first = parseClientFirst(response.toString("utf8"), this.limits);
    if ("error" in first) return this.fail("", null, first.error);
    const { flag, username, authzid } = first;
    // No proxy authorization (as PLAIN, plain.ts): an authzid must name the user itself.
    if (authzid !== null && authzid.toLowerCase() !== username.toLowerCase()) return this.fail(username, authzid, "authzid-mismatch");
    // RFC 5802 §6 and §7: the -PLUS mechanism needs "p"; the plain one must not get "p".
    if (this.plus && flag.kind !== "p") return this.fail(username, authzid, "channel-binding-required");
    if (!this.plus && flag.kind === "p") return this.fail(username, authzid, "channel-binding-not-supported");
    // "y": the client could bind but believes the server cannot. This server offers -PLUS on every
    // TLS link with binding data, so on such a link a "y" means someone stripped -PLUS from the
    // advertisement: a downgrade, and the exchange must fail (RFC 5802 §6).
    if (flag.kind === "y" && this.bindingAvailable()) return this.fail(username, authzid, "downgrade-detected");
    if (flag.kind === "p" && this.bindingData(flag.name) === null) return this.fail(username, authzid, "unsupported-channel-binding-type");

    const lookup = await this.context.lookup(username, this.hash);
    if (lookup.kind === "refused") return { kind: "done", credentials: { kind: "scram", mechanism: this.name, authcid: username, authzid, credential: null, failure: lookup.reason } };
    const serverNonce = this.context.serverNonce?.() ?? randomBytes(18).toString("base64");
    const nonce = first.clientNonce + serverNonce;
    const serverFirst = `r=${nonce},s=${lookup.salt.toString("base64")},i=${lookup.iterations}`;
    this.state = { phase: "client-final", first, serverFirst, nonce, lookup };
    return { kind: "challenge", challenge: Buffer.from(serverFirst, "utf8") };
  }

  private clientFinal(response: Buffer, state: Extract<ScramState, { phase: "client-final" }>): SaslStep {
    const { first } = state;
    const fail = (reason: ScramFailure) => this.fail(first.username, first.authzid, reason);
    if (!isUtf8(response)) return fail("malformed");
    const message = response.toString("utf8");
    // client-final-message = channel-binding "," nonce ["," extensions] "," proof
    const proofAt = message.lastIndexOf(",p=");
    if (proofAt < 0) return fail("malformed");
    const withoutProof = message.slice(0, proofAt);
    const proofText = message.slice(proofAt + 3);
    const attributes = withoutProof.split(",");
    const [cbPart, noncePart] = attributes;
    if (!cbPart?.startsWith("c=") || !noncePart?.startsWith("r=")) return fail("malformed");
    for (const extension of attributes.slice(2)) if (!/^[A-Za-z]=/.test(extension)) return fail("malformed");
    if (!BASE64.test(proofText) || !BASE64.test(cbPart.slice(2))) return fail("malformed");
    const proof = Buffer.from(proofText, "base64");
    if (proof.length !== hashLength(this.hash)) return fail("malformed");
    // The nonce must be exactly the one this exchange issued: a replayed client-final from another
    // exchange carries another server nonce (RFC 5802 §5.1 "r").
    if (noncePart.slice(2) !== state.nonce) return fail("nonce-mismatch");
    // c= is base64 of the gs2 header, followed for "p" by the channel-binding data (§7 cbind-input).
    const expected = Buffer.concat([Buffer.from(first.gs2Header, "utf8"), first.flag.kind === "p" ? (this.bindingData(first.flag.name) ?? Buffer.alloc(0)) : Buffer.alloc(0)]);
    if (!sameBytes(Buffer.from(cbPart.slice(2), "base64"), expected)) return fail("channel-bindings-dont-match");

    const authMessage = Buffer.from(`${first.bare},${state.serverFirst},${withoutProof}`, "utf8");
    for (const entry of state.lookup.keys) {
      if (entry.storedKey.length !== hashLength(this.hash)) continue;
      const clientSignature = hmac(this.hash, entry.storedKey, authMessage);
      const clientKey = xor(proof, clientSignature);
      if (!sameBytes(digest(this.hash, clientKey), entry.storedKey)) continue;
      const serverSignature = hmac(this.hash, entry.serverKey, authMessage);
      const credentials: SaslScramCredentials = {
        kind: "scram",
        mechanism: this.name,
        authcid: first.username,
        authzid: first.authzid,
        credential: entry.credential,
        failure: null,
        // What the keys were looked up for: the Authenticator re-checks both at settlement.
        ...(state.lookup.accountId !== undefined ? { accountId: state.lookup.accountId } : {}),
        ...(entry.tag !== undefined ? { keyTag: entry.tag } : {}),
      };
      this.state = { phase: "acknowledge", credentials };
      return { kind: "challenge", challenge: Buffer.from(`v=${serverSignature.toString("base64")}`, "utf8") };
    }
    return fail("invalid-proof");
  }

  private bindingAvailable(): boolean {
    const bindings = this.context.channelBindings;
    return bindings !== null && Object.values(bindings).some((b) => b !== undefined);
  }

  private bindingData(name: string): Buffer | null {
    const bindings = this.context.channelBindings;
    if (bindings === null) return null;
    if (name !== "tls-exporter" && name !== "tls-server-end-point") return null;
    return bindings[name] ?? null;
  }
}

function scramDescriptor(name: string, hash: ScramHash, plus: boolean): SaslMechanismDescriptor {
  return {
    name,
    // The password never crosses the link: offered without TLS too (RFC 5802 §9 still advises TLS).
    plaintext: false,
    channelBinding: plus,
    create: (limits, context) => (context?.scram ? new ScramMechanism(name, hash, plus, limits, context.scram) : null),
  };
}

export const SCRAM_SHA_256_PLUS = scramDescriptor("SCRAM-SHA-256-PLUS", "sha256", true);
export const SCRAM_SHA_256 = scramDescriptor("SCRAM-SHA-256", "sha256", false);
export const SCRAM_SHA_1_PLUS = scramDescriptor("SCRAM-SHA-1-PLUS", "sha1", true);
export const SCRAM_SHA_1 = scramDescriptor("SCRAM-SHA-1", "sha1", false);
