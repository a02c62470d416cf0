// The PROXY protocol (HAProxy's "proxy-protocol.txt", versions 1 and 2): a load balancer that
// accepts a client's TCP connection and opens its own to us sends, before any byte of the client's,
// one header naming the client's address. We read it only from the configured trusted peers
// (server.proxy_protocol_trusted, docs/architecture.md "Behind a load balancer"); from anyone else a
// header is refused, since believing it would let any client choose the address it is logged, limited
// and judged (SPF) by.
//
// The parser is sans-IO and incremental: give it every byte received so far, it says "incomplete",
// "invalid" (with a reason) or "complete" with how many bytes the header took. The spec's §2.1/§2.2
// bounds make it need at most 107 bytes (v1) or 16 + 65535 (v2) before deciding.

import { isIPv4, isIPv6, type Socket } from "node:net";

/** "PROXY " (v1, text). */
const V1_PREFIX = Buffer.from("PROXY ", "latin1");
/** §2.1: the longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses). */
export const V1_MAX_LENGTH = 107;
/** §2.2: the 12-byte v2 signature, chosen to be invalid in every common protocol. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;

export interface ProxyEndpoint {
  address: string;
  port: number;
}

export interface ProxyHeader {
  version: 1 | 2;
  /**
   * "proxy": source is the client (or null when the balancer could not say: v1 UNKNOWN, v2 AF_UNSPEC
   * or AF_UNIX); "local": the balancer speaks for itself (its health checks), use the socket's peer.
   */
  command: "proxy" | "local";
  source: ProxyEndpoint | null;
  destination: ProxyEndpoint | null;
  /** v2 type-length-value extensions seen (skipped: we act on none of them). */
  tlvCount: number;
}

export type ProxyParse =
  | { status: "incomplete" }
  | { status: "invalid"; reason: string }
  | { status: "complete"; header: ProxyHeader; consumed: number };

const INCOMPLETE: ProxyParse = { status: "incomplete" };
const invalid = (reason: string): ProxyParse => ({ status: "invalid", reason });

/** Whether `bytes` (the first bytes of a connection) start a PROXY header: "yes", "no", or "maybe" when too short to tell. */
export function startsWithProxySignature(bytes: Buffer): "yes" | "no" | "maybe" {
  for (const signature of [V1_PREFIX, V2_SIGNATURE]) {
    const length = Math.min(bytes.length, signature.length);
    if (bytes.subarray(0, length).equals(signature.subarray(0, length))) return length === signature.length ? "yes" : "maybe";
  }
  return "no";
}

/** Parses the header at the start of `bytes`; never throws, whatever the bytes. */
export function parseProxyHeader(bytes: Buffer): ProxyParse {
  switch (startsWithProxySignature(bytes)) {
    case "no":
      return invalid("no PROXY protocol signature");
    case "maybe":
      return INCOMPLETE;
    case "yes":
      return bytes[0] === V1_PREFIX[0] ? parseV1(bytes) : parseV2(bytes);
  }
}

function parseV1(bytes: Buffer): ProxyParse {
  const window = bytes.subarray(0, V1_MAX_LENGTH);
  const cr = window.indexOf(0x0d);
  if (cr < 0 || cr + 1 >= window.length) {
    if (window.length >= V1_MAX_LENGTH) return invalid(`v1 header without CRLF within ${V1_MAX_LENGTH} bytes`);
    return cr < 0 && window.includes(0x0a) ? invalid("v1 header ends in LF without CR") : INCOMPLETE;
  }
  if (window[cr + 1] !== 0x0a) return invalid("v1 header: CR not followed by LF");
  const consumed = cr + 2;
  const line = window.toString("latin1", 0, cr);
  // Printable US-ASCII only; the fields are separated by exactly one space (§2.1).
  if (!/^[\x20-\x7e]*$/.test(line)) return invalid("v1 header: bytes outside printable US-ASCII");
  const fields = line.split(" ");
  const protocol = fields[1];
  if (protocol === "UNKNOWN") {
    // §2.1: the rest of the line is to be ignored; the socket's own peer is used.
    return { status: "complete", consumed, header: { version: 1, command: "proxy", source: null, destination: null, tlvCount: 0 } };
  }
  if (protocol !== "TCP4" && protocol !== "TCP6") return invalid(`v1 header: unknown protocol ${JSON.stringify(protocol?.slice(0, 20) ?? "")}`);
  if (fields.length !== 6) return invalid("v1 header: expected PROXY, protocol, two addresses and two ports");
  const [, , sourceAddress, destinationAddress, sourcePort, destinationPort] = fields as [string, string, string, string, string, string];
  const isFamily = protocol === "TCP4" ? isIPv4 : isIPv6;
  // A zone index (fe80::1%eth0) names an interface of the balancer's machine, meaningless here.
  if (!isFamily(sourceAddress) || !isFamily(destinationAddress) || line.includes("%")) return invalid(`v1 header: addresses are not ${protocol === "TCP4" ? "IPv4" : "IPv6"}`);
  // RFC-style decimal: no sign, no leading zero (as HAProxy writes them), at most 65535.
  const port = (text: string): number | null => (/^(0|[1-9]\d{0,4})$/.test(text) && Number(text) <= 65_535 ? Number(text) : null);
  const source = port(sourcePort);
  const destination = port(destinationPort);
  if (source === null || destination === null) return invalid("v1 header: a port is not a decimal number from 0 to 65535");
  return {
    status: "complete",
    consumed,
    header: {
      version: 1,
      command: "proxy",
      source: { address: normalizeIPv6(sourceAddress), port: source },
      destination: { address: normalizeIPv6(destinationAddress), port: destination },
      tlvCount: 0,
    },
  };
}

function parseV2(bytes: Buffer): ProxyParse {
  if (bytes.length < V2_FIXED) return INCOMPLETE;
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) return invalid(`v2 header: version ${versionCommand >> 4}, expected 2`);
  const commandBits = versionCommand & 0x0f;
  if (commandBits > 1) return invalid(`v2 header: unknown command ${commandBits}`);
  const familyProtocol = bytes[13]!;
  const family = familyProtocol >> 4;
  const transport = familyProtocol & 0x0f;
  const length = bytes.readUInt16BE(14);
  if (bytes.length < V2_FIXED + length) return INCOMPLETE;
  const consumed = V2_FIXED + length;
  const body = bytes.subarray(V2_FIXED, consumed);
  if (family > 3) return invalid(`v2 header: unknown address family ${family}`);
  if (transport > 2) return invalid(`v2 header: unknown transport ${transport}`);
  const addressLength = [0, 12, 36, 216][family]!;
  if (length < addressLength) return invalid(`v2 header: ${length} bytes of addresses, the family needs ${addressLength}`);
  const tlvCount = countTlvs(body.subarray(addressLength));
  if (tlvCount === null) return invalid("v2 header: malformed TLV extensions");
  // §2.2: with LOCAL the receiver must ignore the address block and use the real connection's endpoints.
  if (commandBits === 0) return { status: "complete", consumed, header: { version: 2, command: "local", source: null, destination: null, tlvCount } };
  // We listen on TCP; a proxied datagram flow cannot be what arrives here.
  if (transport === 2) return invalid("v2 header: DGRAM transport on a stream listener");
  if (family === 1 && transport === 1) {
    const source = { address: ipv4At(body, 0), port: body.readUInt16BE(8) };
    const destination = { address: ipv4At(body, 4), port: body.readUInt16BE(10) };
    return { status: "complete", consumed, header: { version: 2, command: "proxy", source, destination, tlvCount } };
  }
  if (family === 2 && transport === 1) {
    const source = { address: ipv6At(body, 0), port: body.readUInt16BE(32) };
    const destination = { address: ipv6At(body, 16), port: body.readUInt16BE(34) };
    return { status: "complete", consumed, header: { version: 2, command: "proxy", source, destination, tlvCount } };
  }
  // AF_UNSPEC or AF_UNIX (or UNSPEC transport): no IP address to use; §2.2 says to fall back to the socket's.
  return { status: "complete", consumed, header: { version: 2, command: "proxy", source: null, destination: null, tlvCount } };
}

/** Walks the TLVs (§2.2.7: type, 16-bit length, value); null when one overruns the block. */
function countTlvs(block: Buffer): number | null {
  let offset = 0;
  let count = 0;
  while (offset < block.length) {
    if (offset + 3 > block.length) return null;
    const length = block.readUInt16BE(offset + 1);
    offset += 3 + length;
    if (offset > block.length) return null;
    count++;
  }
  return count;
}

function ipv4At(bytes: Buffer, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

function ipv6At(bytes: Buffer, offset: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(offset + i * 2).toString(16));
  return normalizeIPv6(groups.join(":"));
}

/**
 * One spelling per address, as a socket reports it: IPv4-mapped IPv6 (::ffff:192.0.2.1, what a
 * balancer on a dual-stack socket sends) becomes the IPv4 address, and IPv6 is compressed
 * (RFC 5952) so that logs, limits and throttling see one key per client.
 */
function normalizeIPv6(address: string): string {
  if (!isIPv6(address)) return address;
  const url = new URL(`http://[${address}]/`);
  const compressed = url.hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (mapped !== null) {
    const high = parseInt(mapped[1]!, 16);
    const low = parseInt(mapped[2]!, 16);
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  return compressed;
}

export class ProxyHeaderError extends Error {
  override readonly name = "ProxyHeaderError";
  constructor(
    message: string,
    /** "timeout", "closed", or "invalid". */
    readonly kind: "timeout" | "closed" | "invalid",
  ) {
    super(message);
  }
}

/**
 * Reads the header from a just-accepted socket of a trusted peer, within timeoutMs. Resolves with the
 * header once it is complete; bytes after it (the client's first bytes, in the same segment) are put
 * back on the socket, which is left paused for whoever reads next. Rejects with ProxyHeaderError.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const settle = (outcome: { header: ProxyHeader; rest: Buffer } | ProxyHeaderError): void => {
      clearTimeout(timer);
      socket.removeListener("data", onData);
      socket.removeListener("end", onEnd);
      socket.removeListener("close", onEnd);
      socket.pause();
      if (outcome instanceof ProxyHeaderError) return reject(outcome);
      if (outcome.rest.length > 0) socket.unshift(outcome.rest);
      resolve(outcome.header);
    };
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const parsed = parseProxyHeader(received);
      if (parsed.status === "incomplete") return;
      if (parsed.status === "invalid") return settle(new ProxyHeaderError(parsed.reason, "invalid"));
      settle({ header: parsed.header, rest: received.subarray(parsed.consumed) });
    };
    const onEnd = (): void => settle(new ProxyHeaderError(`connection closed after ${received.length} bytes, before a complete PROXY header`, "closed"));
    const timer = setTimeout(() => settle(new ProxyHeaderError(`no complete PROXY header within ${timeoutMs} ms (${received.length} bytes received)`, "timeout")), timeoutMs);
    timer.unref();
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
  });
}
