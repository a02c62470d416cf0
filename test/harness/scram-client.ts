// An independent SCRAM client (RFC 5802, RFC 7677) for the end-to-end tests: written from the RFC
// against node:crypto only, sharing no code with the server's src/auth/sasl/scram.ts, so a
// mistake in one is not repeated in the other. Supports SHA-1 and SHA-256, with or without
// channel binding, and lets tests tamper with each message.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

export type ScramClientHash = "sha1" | "sha256";

export interface ScramClientOptions {
  hash: ScramClientHash;
  username: string;
  password: string;
  /** "n" (no binding, client cannot), "y" (client can, thinks the server cannot), or a binding. */
  binding?: { kind: "n" } | { kind: "y" } | { kind: "p"; name: string; data: Buffer };
  clientNonce?: string;
}

export class ScramClient {
  readonly gs2Header: string;
  readonly clientNonce: string;
  readonly bare: string;
  private serverSignature: Buffer | null = null;

  constructor(private readonly options: ScramClientOptions) {
    const binding = options.binding ?? { kind: "n" };
    const flag = binding.kind === "p" ? `p=${binding.name}` : binding.kind;
    this.gs2Header = `${flag},,`;
    this.clientNonce = options.clientNonce ?? randomBytes(18).toString("base64").replace(/,/g, "_");
    const name = options.username.replace(/=/g, "=3D").replace(/,/g, "=2C");
    this.bare = `n=${name},r=${this.clientNonce}`;
  }

  /** client-first-message. */
  first(): string {
    return this.gs2Header + this.bare;
  }

  /** client-final-message for a server-first-message; throws if server-first is not well formed. */
  final(serverFirst: string): string {
    const fields = new Map(serverFirst.split(",").map((part) => [part.slice(0, 1), part.slice(2)] as const));
    const nonce = fields.get("r");
    const salt = fields.get("s");
    const iterations = Number(fields.get("i"));
    if (!nonce?.startsWith(this.clientNonce) || salt === undefined || !Number.isInteger(iterations)) throw new Error(`bad server-first: ${serverFirst}`);
    const binding = this.options.binding ?? { kind: "n" };
    const cbind = Buffer.concat([Buffer.from(this.gs2Header), binding.kind === "p" ? binding.data : Buffer.alloc(0)]);
    const withoutProof = `c=${cbind.toString("base64")},r=${nonce}`;
    const len = this.options.hash === "sha1" ? 20 : 32;
    const salted = pbkdf2Sync(Buffer.from(this.options.password, "utf8"), Buffer.from(salt, "base64"), iterations, len, this.options.hash);
    const clientKey = createHmac(this.options.hash, salted).update("Client Key").digest();
    const storedKey = createHash(this.options.hash).update(clientKey).digest();
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const clientSignature = createHmac(this.options.hash, storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ clientSignature[i]!));
    const serverKey = createHmac(this.options.hash, salted).update("Server Key").digest();
    this.serverSignature = createHmac(this.options.hash, serverKey).update(authMessage).digest();
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  /** Whether server-final proves the server knew the keys (RFC 5802 §3, mutual authentication). */
  verifyServerFinal(serverFinal: string): boolean {
    if (this.serverSignature === null || !serverFinal.startsWith("v=")) return false;
    const got = Buffer.from(serverFinal.slice(2), "base64");
    return got.length === this.serverSignature.length && timingSafeEqual(got, this.serverSignature);
  }
}

export const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
export const unb64 = (text: string): string => Buffer.from(text, "base64").toString("utf8");
