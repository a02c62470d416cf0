// DKIM signing of submitted mail (RFC 6376 §5), per sender domain, with mailauth's signer behind
// our own options. Returns the DKIM-Signature field to prepend; the message itself is not copied.
// relaxed/relaxed canonicalisation (RFC 6376 §3.4.2, §3.4.4) survives the whitespace and folding
// changes relays commonly make. The signed header list is mailauth's default: From, Sender,
// Reply-To, Subject, Date, Message-ID, To, Cc, MIME and Content-* fields, Resent-*, In-Reply-To,
// References and List-* (RFC 6376 §5.4.1 recommends these), each only when present.
import type { Readable } from "node:stream";
import { createPrivateKey } from "node:crypto";
import { loadMailauth } from "./load-mailauth.js";

export type DkimAlgorithm = "rsa-sha256" | "ed25519-sha256";

export interface SignOutboundOptions {
  /** The d= tag: the sender domain taking responsibility. */
  domain: string;
  /** The s= tag: the key published at `<selector>._domainkey.<domain>`. */
  selector: string;
  privateKeyPem: string;
  algorithm: DkimAlgorithm;
  /** The t= tag (RFC 6376 §3.5); now by default. */
  signTime?: Date;
}

export class DkimSigningError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DkimSigningError";
  }
}

/** One key to sign with; several share one pass over the message. */
export interface SigningKey {
  selector: string;
  privateKeyPem: string;
  algorithm: DkimAlgorithm;
}

/**
 * Key types already checked, by PEM text. Parsing an RSA-2048 PEM costs about 0.5 ms and mailauth
 * parses it again to sign; checking once per key instead of once per message halves that cost.
 * Bounded, since keys are few (two per domain) and a rotation only adds two.
 */
const checkedKeys = new Map<string, string>();
const CHECKED_KEYS_MAX = 1024;

/** The key type must match the algorithm (RFC 8463 §3 for Ed25519, RFC 8301 for RSA). */
function checkKey(privateKeyPem: string, algorithm: DkimAlgorithm): void {
  let keyType = checkedKeys.get(privateKeyPem);
  if (keyType === undefined) {
    try {
      keyType = createPrivateKey(privateKeyPem).asymmetricKeyType ?? "unknown";
    } catch (error) {
      throw new DkimSigningError("DKIM private key is not a readable PEM key", { cause: error });
    }
    if (checkedKeys.size >= CHECKED_KEYS_MAX) checkedKeys.clear();
    checkedKeys.set(privateKeyPem, keyType);
  }
  const expected = algorithm === "rsa-sha256" ? "rsa" : "ed25519";
  if (keyType !== expected) throw new DkimSigningError(`DKIM key is ${keyType}, algorithm ${algorithm} needs ${expected}`);
}

/**
 * Signs one message and returns its `DKIM-Signature: …` field, folded and CRLF-terminated.
 * Throws DkimSigningError when the key is unusable or mailauth reports a signing error: sending
 * unsigned mail silently would let a configuration mistake go unnoticed.
 */
export async function signOutbound(message: Readable | Buffer, options: SignOutboundOptions): Promise<string> {
  return signOutboundWithKeys(message, options.domain, [options], options.signTime);
}

/**
 * Signs one message with every key in one pass (RFC 8463 §6: Ed25519 beside RSA) and returns the
 * DKIM-Signature fields in key order. The message is read once and, both keys using relaxed body
 * canonicalisation and SHA-256, its body is canonicalised and hashed once: mailauth shares a body
 * hash among signatures with the same canonicalisation and hash (RFC 6376 §3.7 bh= is the same).
 */
export async function signOutboundWithKeys(message: Readable | Buffer, domain: string, keys: readonly SigningKey[], signTime: Date = new Date()): Promise<string> {
  if (keys.length === 0) throw new DkimSigningError("no DKIM key to sign with");
  for (const key of keys) checkKey(key.privateKeyPem, key.algorithm);
  const signatureData = keys.map((key) => ({
    signingDomain: domain,
    selector: key.selector,
    privateKey: key.privateKeyPem,
    algorithm: key.algorithm,
    canonicalization: "relaxed/relaxed",
  }));
  // mailauth 4.x reads the keys from signatureData; the top-level copy satisfies its typings.
  const { dkimSign } = await loadMailauth();
  const outcome = await dkimSign(message, {
    ...signatureData[0]!,
    signatureData,
    signTime,
  });
  const firstError: unknown = outcome.errors?.[0];
  if (firstError) {
    const cause = typeof firstError === "object" && firstError !== null && "err" in firstError ? firstError.err : firstError;
    throw new DkimSigningError(`DKIM signing failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const fields = outcome.signatures.split(/\r\n(?=DKIM-Signature:)/i).filter((f) => f.trim() !== "");
  if (fields.length !== keys.length || !fields.every((f) => /^DKIM-Signature:/i.test(f))) throw new DkimSigningError("DKIM signing produced no signature");
  return fields.map((f) => (f.endsWith("\r\n") ? f : `${f}\r\n`)).join("");
}
