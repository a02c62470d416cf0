// DKIM signing of submitted mail (RFC 6376 §5), per sender domain, with mailauth's signer behind
// our own options. Returns the DKIM-Signature field to prepend; the message itself is not copied.
// relaxed/relaxed canonicalisation (RFC 6376 §3.4.2, §3.4.4) survives the whitespace and folding
// changes relays commonly make. The signed header list is mailauth's default: From, Sender,
// Reply-To, Subject, Date, Message-ID, To, Cc, MIME and Content-* fields, Resent-*, In-Reply-To,
// References and List-* (RFC 6376 §5.4.1 recommends these), each only when present.
import type { Readable } from "node:stream";
import { createPrivateKey } from "node:crypto";
import { dkimSign } from "mailauth";

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

/** The key type must match the algorithm (RFC 8463 §3 for Ed25519, RFC 8301 for RSA). */
function checkKey(privateKeyPem: string, algorithm: DkimAlgorithm): void {
  let keyType: string | undefined;
  try {
    keyType = createPrivateKey(privateKeyPem).asymmetricKeyType;
  } catch (error) {
    throw new DkimSigningError("DKIM private key is not a readable PEM key", { cause: error });
  }
  const expected = algorithm === "rsa-sha256" ? "rsa" : "ed25519";
  if (keyType !== expected) throw new DkimSigningError(`DKIM key is ${keyType ?? "unknown"}, algorithm ${algorithm} needs ${expected}`);
}

/**
 * Signs one message and returns its `DKIM-Signature: …` field, folded and CRLF-terminated.
 * Throws DkimSigningError when the key is unusable or mailauth reports a signing error: sending
 * unsigned mail silently would let a configuration mistake go unnoticed.
 */
export async function signOutbound(message: Readable | Buffer, options: SignOutboundOptions): Promise<string> {
  checkKey(options.privateKeyPem, options.algorithm);
  const signature = {
    signingDomain: options.domain,
    selector: options.selector,
    privateKey: options.privateKeyPem,
    algorithm: options.algorithm,
    canonicalization: "relaxed/relaxed",
  };
  // mailauth 4.x reads the keys from signatureData; the top-level copy satisfies its typings.
  const outcome = await dkimSign(message, {
    ...signature,
    signatureData: [signature],
    signTime: options.signTime ?? new Date(),
  });
  const firstError: unknown = outcome.errors?.[0];
  if (firstError) {
    throw new DkimSigningError(`DKIM signing failed: ${firstError instanceof Error ? firstError.message : String(firstError)}`, { cause: firstError });
  }
  const header = outcome.signatures;
  if (!/^DKIM-Signature:/i.test(header)) throw new DkimSigningError("DKIM signing produced no signature");
  return header.endsWith("\r\n") ? header : `${header}\r\n`;
}
