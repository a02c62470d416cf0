// A software WebAuthn authenticator for API tests (W3C WebAuthn §6): an ES256 key pair, a
// registration with attestation "none" (authenticator data with the attested credential data, the
// COSE key in CBOR), and assertions signed over authenticatorData || SHA-256(clientDataJSON).
// It lets tests forge what a browser never would: wrong origins, bad signatures, old counters.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";

/** Minimal CBOR (RFC 8949) encoding of what WebAuthn needs: unsigned/negative ints, bytes, text, maps. */
export function cbor(value: unknown): Buffer {
  const head = (major: number, n: number): Buffer => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    if (n < 65536) return Buffer.from([(major << 5) | 25, n >> 8, n & 255]);
    const b = Buffer.alloc(5);
    b[0] = (major << 5) | 26;
    b.writeUInt32BE(n, 1);
    return b;
  };
  if (typeof value === "number") return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  if (typeof value === "string") return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Map) return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
  throw new Error("cbor: unsupported value");
}

const b64u = (b: Buffer) => b.toString("base64url");

export class SoftAuthenticator {
  readonly credentialId = randomBytes(32);
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  counter = 0;

  constructor(
    readonly rpId: string,
    readonly origin: string,
  ) {
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  get id(): string {
    return b64u(this.credentialId);
  }

  private clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** The registration response (PublicKeyCredential JSON) for creation options' challenge. */
  register(challenge: string, options: { origin?: string } = {}): Record<string, unknown> {
    const jwk = this.publicKey.export({ format: "jwk" });
    const coseKey = cbor(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, "base64url")], [-3, Buffer.from(jwk.y!, "base64url")]]));
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    // Flags: UP (0x01) | UV (0x04) | AT (0x40).
    const authData = Buffer.concat([createHash("sha256").update(this.rpId).digest(), Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), idLength, this.credentialId, coseKey]);
    const attestationObject = cbor(new Map<string, unknown>([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
    return { id: this.id, rawId: this.id, type: "public-key", clientExtensionResults: {}, response: { clientDataJSON: b64u(this.clientData("webauthn.create", challenge, options.origin ?? this.origin)), attestationObject: b64u(attestationObject), transports: ["internal"] } };
  }

  /** An assertion for request options' challenge; the counter grows unless `counter` is given. */
  assert(challenge: string, options: { origin?: string; rpId?: string; counter?: number; flags?: number; badSignature?: boolean } = {}): Record<string, unknown> {
    const counter = options.counter ?? ++this.counter;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    const authData = Buffer.concat([createHash("sha256").update(options.rpId ?? this.rpId).digest(), Buffer.from([options.flags ?? 0x05]), count]);
    const clientDataJSON = this.clientData("webauthn.get", challenge, options.origin ?? this.origin);
    let signature = sign("sha256", Buffer.concat([authData, createHash("sha256").update(clientDataJSON).digest()]), this.privateKey);
    if (options.badSignature) signature = sign("sha256", Buffer.from("something else"), this.privateKey);
    return { id: this.id, rawId: this.id, type: "public-key", clientExtensionResults: {}, response: { clientDataJSON: b64u(clientDataJSON), authenticatorData: b64u(authData), signature: b64u(signature) } };
  }
}
