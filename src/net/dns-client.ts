// A DNS stub client that keeps what node's resolver hides: whether the configured validating
// resolver authenticated the answer (the AD bit, RFC 4035 §3.2.3). DANE (RFC 7672 §2.1) rests on
// that bit, so it is only believed from a resolver the operator runs (RFC 4035 §4.9.3, "as
// Postfix does": a local unbound or similar, outbound.dnssec_resolver).
// One query: UDP from a random port with a random id; an answer whose id, question or sender does
// not match is ignored (RFC 5452 §4); a truncated answer (TC) is asked again over TCP (RFC 7766
// §5); a silent server is asked again up to `attempts` times, each with its own deadline. A
// validating resolver answers SERVFAIL for data that fails validation (bogus, RFC 4035 §5.5), so
// SERVFAIL is a failure the caller defers on, not "no such record".
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { randomInt } from "node:crypto";
import { isIP } from "node:net";
import { DNS_TYPES, encodeQuery, parseResponse, RCODES, type DnsResponse, type RecordData } from "./dns-message.js";

export interface DnsServerAddress {
  host: string;
  port: number;
}

export type DnssecAnswer =
  | {
      kind: "answer";
      /** NOERROR with records, NODATA (NOERROR, none), or NXDOMAIN. */
      rcode: "NOERROR" | "NXDOMAIN";
      /** The resolver validated the whole answer (or the denial) with DNSSEC: the AD bit. */
      secure: boolean;
      /** The records of the asked type at the name, after following CNAMEs in the answer. */
      records: RecordData[];
      /** The name the records belong to (the end of a CNAME chain), lower case. */
      canonicalName: string;
    }
  | { kind: "failed"; reason: string };

export interface DnssecClientOptions {
  server: DnsServerAddress;
  /** Deadline of each try. */
  timeoutMs?: number;
  /** Tries over UDP before giving up. */
  attempts?: number;
}

export type DnssecQuery = (name: string, type: keyof typeof DNS_TYPES) => Promise<DnssecAnswer>;

/** "127.0.0.1", "127.0.0.1:5353", "::1" or "[::1]:5353" → host and port (53 by default); null if not an address. */
export function parseServerAddress(text: string): DnsServerAddress | null {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const v4 = /^([\d.]+)(?::(\d{1,5}))?$/.exec(text);
  const [host, port] = bracketed ? [bracketed[1]!, bracketed[2]] : v4 ? [v4[1]!, v4[2]] : [text, undefined];
  if (isIP(host) === 0) return null;
  const number = port === undefined ? 53 : Number(port);
  return number >= 1 && number <= 65_535 ? { host, port: number } : null;
}

export function createDnssecClient(options: DnssecClientOptions): DnssecQuery {
  const timeoutMs = options.timeoutMs ?? 5000;
  const attempts = options.attempts ?? 3;
  return async (rawName, typeName) => {
    const name = rawName.toLowerCase().replace(/\.$/, "");
    const type = DNS_TYPES[typeName];
    let query: Buffer;
    const id = randomInt(0, 0x10000);
    try {
      query = encodeQuery(id, name, type);
    } catch (error) {
      return { kind: "failed", reason: (error as Error).message };
    }
    let lastError = "no answer";
    for (let attempt = 0; attempt < attempts; attempt++) {
      let response: DnsResponse;
      try {
        response = await askUdp(options.server, query, id, name, type, timeoutMs);
        if (response.tc) response = await askTcp(options.server, query, id, name, type, timeoutMs);
      } catch (error) {
        lastError = (error as Error).message;
        continue;
      }
      return interpret(response, name, type, typeName);
    }
    return { kind: "failed", reason: `${typeName} ${name}: ${lastError} from ${options.server.host}:${options.server.port} after ${attempts} tries` };
  };
}

function interpret(response: DnsResponse, name: string, type: number, typeName: string): DnssecAnswer {
  const rcode = RCODES[response.rcode] ?? `RCODE ${response.rcode}`;
  if (rcode !== "NOERROR" && rcode !== "NXDOMAIN") {
    // SERVFAIL from a validating resolver is what bogus data looks like (RFC 4035 §5.5).
    return { kind: "failed", reason: `${typeName} ${name}: ${rcode}${rcode === "SERVFAIL" ? " (DNSSEC validation failure or unreachable servers)" : ""}` };
  }
  // Follow CNAMEs from the asked name within the answer section (RFC 1034 §3.6.2), bounded.
  let owner = name;
  for (let hops = 0; hops < 16; hops++) {
    const alias = response.answers.find((r) => r.name === owner && r.data.type === "CNAME");
    if (!alias || type === DNS_TYPES.CNAME) break;
    owner = (alias.data as { target: string }).target;
  }
  const records = response.answers.filter((r) => r.name === owner && r.type === type && r.class === 1).map((r) => r.data);
  return { kind: "answer", rcode, secure: response.ad, records, canonicalName: owner };
}

/** An answer that belongs to our question (RFC 5452 §4.1): id, QR, the same name and type. */
function matches(response: DnsResponse, id: number, name: string, type: number): boolean {
  return response.id === id && response.qr && response.question !== null && response.question.name === name && response.question.type === type;
}

function askUdp(server: DnsServerAddress, query: Buffer, id: number, name: string, type: number, timeoutMs: number): Promise<DnsResponse> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(server.host) === 6 ? "udp6" : "udp4");
    let done = false;
    const finish = (error: Error | null, response?: DnsResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on("error", (error) => finish(error));
    socket.on("message", (bytes, from) => {
      // Only the server asked may answer; anything else (spoofed, stray, malformed) is ignored and we keep waiting.
      if (from.port !== server.port || canonicalAddress(from.address) !== canonicalAddress(server.host)) return;
      const parsed = parseResponse(bytes);
      if (!parsed.ok || !matches(parsed.message, id, name, type)) return;
      finish(null, parsed.message);
    });
    socket.send(query, server.port, server.host, (error) => {
      if (error) finish(error);
    });
  });
}

/**
 * One spelling per address, so a configured "0:0:0:0:0:0:0:1" matches the "::1" the socket reports
 * (RFC 5952 form, as WHATWG URL serialises IPv6 hosts).
 */
export function canonicalAddress(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/** RFC 1035 §4.2.2 / RFC 7766 §8: each message prefixed by its two-octet length. */
function askTcp(server: DnsServerAddress, query: Buffer, id: number, name: string, type: number, timeoutMs: number): Promise<DnsResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let buffered = Buffer.alloc(0);
    const finish = (error: Error | null, response?: DnsResponse) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer over TCP within ${timeoutMs} ms`)), timeoutMs);
    socket.on("error", (error) => finish(error));
    socket.on("close", () => finish(new Error("TCP connection closed before the answer")));
    socket.on("connect", () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length, 0);
      socket.write(Buffer.concat([length, query]));
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2) return;
      const size = buffered.readUInt16BE(0);
      if (buffered.length < 2 + size) return;
      const parsed = parseResponse(buffered.subarray(2, 2 + size));
      if (!parsed.ok) finish(new Error(`malformed answer over TCP: ${parsed.error}`));
      else if (!matches(parsed.message, id, name, type)) finish(new Error("answer over TCP does not match the question"));
      else finish(null, parsed.message);
    });
  });
}
