// Reads the server name (SNI, RFC 6066 §3) and the offered ALPN protocols (RFC 7301 §3.1) from the
// first TLS record of a connection, before OpenSSL sees it. Node's SNICallback cannot see ALPN, but
// an ACME TLS-ALPN-01 validation (RFC 8737 §3) must get the challenge certificate only when it
// offers "acme-tls/1", while a browser asking for the same name gets the real one; so the HTTPS
// port looks first (http/http-service.ts). Sans-IO, bounded by one TLS record (16 KiB + 5), and it
// never throws: anything it cannot read is "not a ClientHello we understand", and the connection
// then goes to the ordinary TLS server, which judges it.

/** RFC 8446 §5.1: a record's fragment is at most 2^14 bytes (plus the 5-byte header). */
export const MAX_CLIENT_HELLO_RECORD = 5 + 16_384;

export type ClientHelloPeek =
  | { status: "incomplete" }
  | { status: "other" }
  | { status: "complete"; serverName: string | null; alpn: string[] };

const OTHER: ClientHelloPeek = { status: "other" };

export function peekClientHello(bytes: Buffer): ClientHelloPeek {
  if (bytes.length < 5) return bytes.length > 0 && bytes[0] !== 0x16 ? OTHER : { status: "incomplete" };
  if (bytes[0] !== 0x16 || bytes[1] !== 0x03) return OTHER; // handshake record, TLS 1.x framing
  const recordLength = bytes.readUInt16BE(3);
  if (recordLength > 16_384) return OTHER;
  if (bytes.length < 5 + recordLength) return { status: "incomplete" };
  const record = bytes.subarray(5, 5 + recordLength);
  const reader = new Reader(record);
  if (reader.u8() !== 0x01) return OTHER; // ClientHello
  const helloLength = reader.u24();
  // A ClientHello longer than its first record continues in the next; only what is here is read.
  const hello = new Reader(record.subarray(4, 4 + Math.min(helloLength ?? 0, record.length - 4)));
  hello.skip(2 + 32); // legacy_version, random
  hello.skip(hello.u8() ?? -1); // legacy_session_id
  hello.skip(hello.u16() ?? -1); // cipher_suites
  hello.skip(hello.u8() ?? -1); // legacy_compression_methods
  const extensionsLength = hello.u16();
  if (hello.failed || extensionsLength === null) return { status: "complete", serverName: null, alpn: [] };
  const extensions = new Reader(hello.take(Math.min(extensionsLength, hello.remaining)) ?? Buffer.alloc(0));
  let serverName: string | null = null;
  const alpn: string[] = [];
  while (extensions.remaining >= 4) {
    const type = extensions.u16()!;
    const body = extensions.take(extensions.u16()!);
    if (body === null) break;
    if (type === 0) serverName = readServerName(body);
    else if (type === 16) alpn.push(...readAlpn(body));
  }
  return { status: "complete", serverName, alpn };
}

function readServerName(body: Buffer): string | null {
  const list = new Reader(body);
  const length = list.u16();
  const names = new Reader(list.take(length ?? -1) ?? Buffer.alloc(0));
  while (names.remaining >= 3) {
    const type = names.u8();
    const name = names.take(names.u16() ?? -1);
    if (name === null) return null;
    // host_name (0): ASCII, no trailing dot (RFC 6066 §3).
    if (type === 0 && /^[\x21-\x7e]{1,253}$/.test(name.toString("latin1"))) return name.toString("latin1").toLowerCase();
  }
  return null;
}

function readAlpn(body: Buffer): string[] {
  const list = new Reader(body);
  const entries = new Reader(list.take(list.u16() ?? -1) ?? Buffer.alloc(0));
  const protocols: string[] = [];
  while (entries.remaining > 0) {
    const protocol = entries.take(entries.u8() ?? -1);
    if (protocol === null) break;
    protocols.push(protocol.toString("latin1"));
  }
  return protocols;
}

/** Bounds-checked reading; after a read past the end every further read yields null. */
class Reader {
  private offset = 0;
  failed = false;
  constructor(private readonly bytes: Buffer) {}

  get remaining(): number {
    return this.failed ? 0 : this.bytes.length - this.offset;
  }

  private fits(count: number): boolean {
    if (this.failed || count < 0 || this.offset + count > this.bytes.length) {
      this.failed = true;
      return false;
    }
    return true;
  }

  u8(): number | null {
    if (!this.fits(1)) return null;
    return this.bytes[this.offset++]!;
  }

  u16(): number | null {
    if (!this.fits(2)) return null;
    const value = this.bytes.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  u24(): number | null {
    if (!this.fits(3)) return null;
    const value = this.bytes.readUIntBE(this.offset, 3);
    this.offset += 3;
    return value;
  }

  skip(count: number): void {
    if (this.fits(count)) this.offset += count;
  }

  take(count: number): Buffer | null {
    if (!this.fits(count)) return null;
    const slice = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }
}
