// A small authoritative DNS server on loopback for tests: the configured resolver of a Mailroom
// instance (outbound.dns_servers) is pointed at it, so MX, A, SPF, DKIM and DMARC lookups are real
// DNS messages over UDP (and TCP when an answer does not fit) without touching the real DNS.
// Records come from a DnsTable (the same shape the table resolver reads) and can be replaced while
// the server runs. Hand-written encoding of RFC 1035 §4 messages, no name compression on output.
//   - NXDOMAIN (RCODE 3) for a name neither in the table nor above a name in it; NODATA (RCODE 0,
//     no answers) for a name that exists without the asked type, including empty non-terminals
//     such as _domainkey.a.test (RFC 8020 §2); both with an SOA in the authority section so a
//     resolver may cache the negative answer (RFC 2308 §3).
//   - `{ fail: "ESERVFAIL" }` answers RCODE 2, `{ fail: "EREFUSED" }` RCODE 5, `{ fail: "ETIMEOUT" }`
//     never answers.
//   - UDP answers are limited to 512 octets (RFC 1035 §4.2.1) or the EDNS payload size the query
//     offers (RFC 6891 §6.2.3); larger ones are sent empty with TC set, and the client asks over TCP
//     (RFC 7766), which this server also serves.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import type { DnsFailure, DnsTableEntry, MxRecord } from "../../src/mail-auth/index.js";

export const RR_TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41 } as const;

/** An SRV answer (RFC 2782), as node:dns resolveSrv gives it. */
export interface SrvAnswer {
  priority: number;
  weight: number;
  port: number;
  name: string;
}

/**
 * The table the server answers from: the resolver's DnsTable, plus SRV and CNAME records (answered
 * only to queries of their own type, which is what `mailroom dns check` asks).
 */
export type DnsServerTable = Record<string, DnsTableEntry & { SRV?: SrvAnswer[]; CNAME?: string[] }>;
const TYPE_NAMES = new Map<number, string>(Object.entries(RR_TYPES).map(([name, code]) => [code, name]));
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsQuery {
  id: number;
  flags: number;
  question: DnsQuestion;
  /** The EDNS UDP payload size offered (RFC 6891 §6.1.2), or null without an OPT record. */
  ednsPayload: number | null;
}

export interface ResourceRecord {
  name: string;
  type: number;
  ttl: number;
  rdata: Buffer;
}

// ---------------------------------------------------------------------------------------------
// Wire format (RFC 1035 §3.1, §4.1)

export function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").split(".").filter((label) => label !== "");
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, "utf8");
    if (bytes.length > 63) throw new RangeError(`label too long: ${label}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A name at `offset`, following compression pointers (RFC 1035 §4.1.4); `end` is past the name. */
export function decodeName(message: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let position = offset;
  let end = -1;
  for (let jumps = 0; ; ) {
    const length = message[position];
    if (length === undefined) throw new RangeError("name runs past the message");
    if (length === 0) {
      if (end < 0) end = position + 1;
      break;
    }
    if ((length & 0xc0) === 0xc0) {
      const low = message[position + 1];
      if (low === undefined) throw new RangeError("truncated compression pointer");
      if (end < 0) end = position + 2;
      position = ((length & 0x3f) << 8) | low;
      if (++jumps > 32) throw new RangeError("compression loop");
      continue;
    }
    if (length > 63) throw new RangeError("bad label length");
    if (position + 1 + length > message.length) throw new RangeError("label runs past the message");
    labels.push(message.toString("latin1", position + 1, position + 1 + length));
    position += 1 + length;
  }
  return { name: labels.join("."), end };
}

/** Parses a query: exactly one question (RFC 1035 §4.1.2 in practice), an optional OPT record. */
export function decodeQuery(message: Buffer): DnsQuery {
  if (message.length < 12) throw new RangeError("message shorter than its header");
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  const qdcount = message.readUInt16BE(4);
  const ancount = message.readUInt16BE(6);
  const nscount = message.readUInt16BE(8);
  const arcount = message.readUInt16BE(10);
  if (flags & 0x8000) throw new RangeError("a response, not a query");
  if (qdcount !== 1) throw new RangeError(`expected one question, got ${qdcount}`);
  const { name, end } = decodeName(message, 12);
  if (end + 4 > message.length) throw new RangeError("truncated question");
  const question = { name, type: message.readUInt16BE(end), class: message.readUInt16BE(end + 2) };
  let position = end + 4;
  let ednsPayload: number | null = null;
  for (let i = 0; i < ancount + nscount + arcount; i++) {
    const owner = decodeName(message, position);
    if (owner.end + 10 > message.length) throw new RangeError("truncated record");
    const type = message.readUInt16BE(owner.end);
    const rdlength = message.readUInt16BE(owner.end + 8);
    if (type === RR_TYPES.OPT) ednsPayload = message.readUInt16BE(owner.end + 2);
    position = owner.end + 10 + rdlength;
    if (position > message.length) throw new RangeError("record runs past the message");
  }
  return { id, flags, question, ednsPayload };
}

export function encodeQuery(id: number, name: string, type: number, options: { ednsPayload?: number } = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(options.ednsPayload === undefined ? 0 : 1, 10);
  const question = Buffer.concat([encodeName(name), u16(type), u16(1)]);
  const opt = options.ednsPayload === undefined ? Buffer.alloc(0) : optRecord(options.ednsPayload);
  return Buffer.concat([header, question, opt]);
}

export interface DnsResponse {
  id: number;
  flags: number;
  rcode: number;
  truncated: boolean;
  authoritative: boolean;
  answers: ResourceRecord[];
  authority: ResourceRecord[];
}

/** Parses a response (for this server's tests). */
export function decodeResponse(message: Buffer): DnsResponse {
  const flags = message.readUInt16BE(2);
  const counts = [message.readUInt16BE(4), message.readUInt16BE(6), message.readUInt16BE(8)] as const;
  let position = 12;
  for (let i = 0; i < counts[0]; i++) position = decodeName(message, position).end + 4;
  const section = (count: number): ResourceRecord[] => {
    const records: ResourceRecord[] = [];
    for (let i = 0; i < count; i++) {
      const owner = decodeName(message, position);
      const rdlength = message.readUInt16BE(owner.end + 8);
      const start = owner.end + 10;
      records.push({ name: owner.name, type: message.readUInt16BE(owner.end), ttl: message.readUInt32BE(owner.end + 4), rdata: message.subarray(start, start + rdlength) });
      position = start + rdlength;
    }
    return records;
  };
  const answers = section(counts[1]);
  const authority = section(counts[2]);
  return { id: message.readUInt16BE(0), flags, rcode: flags & 0x0f, truncated: (flags & 0x0200) !== 0, authoritative: (flags & 0x0400) !== 0, answers, authority };
}

function u16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value, 0);
  return bytes;
}

function optRecord(payload: number): Buffer {
  // RFC 6891 §6.1.2: root owner, TYPE 41, CLASS = payload size, TTL = extended RCODE and flags.
  return Buffer.concat([Buffer.from([0]), u16(RR_TYPES.OPT), u16(payload), Buffer.alloc(4), u16(0)]);
}

function encodeRecord(record: ResourceRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(record.type, 0);
  fixed.writeUInt16BE(1, 2); // IN
  fixed.writeUInt32BE(record.ttl, 4);
  fixed.writeUInt16BE(record.rdata.length, 8);
  return Buffer.concat([encodeName(record.name), fixed, record.rdata]);
}

export function encodeResponse(query: DnsQuery, rcode: number, answers: ResourceRecord[], authority: ResourceRecord[], options: { truncated?: boolean } = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.id, 0);
  // QR, the query's opcode, AA, TC when asked, the query's RD; RA clear (not recursive).
  const flags = 0x8000 | (query.flags & 0x7800) | 0x0400 | (options.truncated ? 0x0200 : 0) | (query.flags & 0x0100) | (rcode & 0x0f);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  header.writeUInt16BE(authority.length, 8);
  header.writeUInt16BE(query.ednsPayload === null ? 0 : 1, 10);
  const question = Buffer.concat([encodeName(query.question.name), u16(query.question.type), u16(query.question.class)]);
  const opt = query.ednsPayload === null ? [] : [optRecord(4096)];
  return Buffer.concat([header, question, ...answers.map(encodeRecord), ...authority.map(encodeRecord), ...opt]);
}

// ---------------------------------------------------------------------------------------------
// Record data (RFC 1035 §3.3, RFC 3596 §2.2)

function ipv4(address: string): Buffer {
  const octets = address.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) throw new RangeError(`not an IPv4 address: ${address}`);
  return Buffer.from(octets);
}

function ipv6(address: string): Buffer {
  const [head = "", tail] = address.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const middle = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill("0");
  const all = [...left, ...middle, ...right];
  if (all.length !== 8) throw new RangeError(`not an IPv6 address: ${address}`);
  const bytes = Buffer.alloc(16);
  all.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  return bytes;
}

function txtData(strings: string[]): Buffer {
  // RFC 1035 §3.3.14: character-strings of at most 255 octets; longer ones are split.
  const parts: Buffer[] = [];
  for (const text of strings.length === 0 ? [""] : strings) {
    const bytes = Buffer.from(text, "utf8");
    for (let start = 0; start < bytes.length || start === 0; start += 255) {
      const piece = bytes.subarray(start, start + 255);
      parts.push(Buffer.from([piece.length]), piece);
      if (bytes.length === 0) break;
    }
  }
  return Buffer.concat(parts);
}

function rdataOf(type: string, value: unknown): Buffer {
  switch (type) {
    case "A":
      return ipv4(value as string);
    case "AAAA":
      return ipv6(value as string);
    case "MX": {
      const mx = value as MxRecord;
      return Buffer.concat([u16(mx.priority), encodeName(mx.exchange === "" ? "." : mx.exchange)]);
    }
    case "TXT":
      return txtData(value as string[]);
    case "PTR":
    case "CNAME":
      return encodeName(value as string);
    case "SRV": {
      const srv = value as SrvAnswer;
      return Buffer.concat([u16(srv.priority), u16(srv.weight), u16(srv.port), encodeName(srv.name === "" ? "." : srv.name)]);
    }
  }
  throw new RangeError(`unsupported type ${type}`);
}

// ---------------------------------------------------------------------------------------------
// The server

export interface DnsServerOptions {
  /** TTL of every answer, in seconds. */
  ttl?: number;
}

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

export class TestDnsServer {
  #table = new Map<string, DnsTableEntry>();
  #udp: UdpSocket | null = null;
  #tcp: Server | null = null;
  readonly #tcpSockets = new Set<Socket>();
  readonly #ttl: number;
  port = 0;
  /** Every question asked, as "TYPE name" (transport appended for TCP), oldest first. */
  readonly log: string[] = [];

  constructor(table: DnsServerTable = {}, options: DnsServerOptions = {}) {
    this.#ttl = options.ttl ?? 60;
    this.setTable(table);
  }

  /** Replaces every record. */
  setTable(table: DnsServerTable): void {
    this.#table = new Map(Object.entries(table).map(([name, entry]) => [canonical(name), entry]));
  }

  /** Adds or replaces the records of one name. */
  set(name: string, entry: DnsTableEntry): void {
    this.#table.set(canonical(name), entry);
  }

  /** "127.0.0.1:<port>", the form outbound.dns_servers takes. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Binds UDP and TCP on one free loopback port (retrying when only one of the two is free). */
  async listen(): Promise<void> {
    for (let tries = 0; ; tries++) {
      const udp = createSocket("udp4");
      udp.bind(0, "127.0.0.1");
      await once(udp, "listening");
      const port = udp.address().port;
      const tcp = createServer((socket) => this.#serveTcp(socket));
      const bound = await new Promise<boolean>((resolve) => {
        tcp.once("error", () => resolve(false));
        tcp.listen(port, "127.0.0.1", () => resolve(true));
      });
      if (!bound) {
        udp.close();
        if (tries < 10) continue;
        throw new Error("no port free for both UDP and TCP");
      }
      udp.on("message", (message, remote) => {
        const answer = this.answer(message, "udp");
        if (answer !== null) udp.send(answer, remote.port, remote.address);
      });
      this.#udp = udp;
      this.#tcp = tcp;
      this.port = port;
      return;
    }
  }

  async close(): Promise<void> {
    for (const socket of this.#tcpSockets) socket.destroy();
    if (this.#udp) await new Promise<void>((resolve) => this.#udp!.close(() => resolve()));
    if (this.#tcp) await new Promise<void>((resolve) => this.#tcp!.close(() => resolve()));
    this.#udp = null;
    this.#tcp = null;
  }

  /** The response to one query message, or null for none (unparseable, or a simulated timeout). */
  answer(message: Buffer, transport: "udp" | "tcp"): Buffer | null {
    let query: DnsQuery;
    try {
      query = decodeQuery(message);
    } catch {
      // RFC 1035 §4.1.1: FORMERR when at least the id can be echoed.
      if (message.length < 12) return null;
      const header = Buffer.alloc(12);
      message.copy(header, 0, 0, 2);
      header.writeUInt16BE(0x8000 | RCODE.FORMERR, 2);
      return header;
    }
    const { name, type } = query.question;
    const typeName = TYPE_NAMES.get(type) ?? `TYPE${type}`;
    this.log.push(`${typeName} ${canonical(name)}${transport === "tcp" ? " (tcp)" : ""}`);
    const result = this.#lookup(canonical(name), typeName);
    if (result === "timeout") return null;
    const response = encodeResponse(query, result.rcode, result.answers, result.authority);
    if (transport === "tcp") return response;
    const limit = Math.max(512, query.ednsPayload ?? 512);
    return response.length <= limit ? response : encodeResponse(query, result.rcode, [], [], { truncated: true });
  }

  #lookup(name: string, type: string): "timeout" | { rcode: number; answers: ResourceRecord[]; authority: ResourceRecord[] } {
    const entry = this.#table.get(name);
    if (entry === undefined) {
      const exists = [...this.#table.keys()].some((known) => known.endsWith(`.${name}`));
      return { rcode: exists ? RCODE.NOERROR : RCODE.NXDOMAIN, answers: [], authority: [this.#soa(name)] };
    }
    const set = (entry as Record<string, unknown[] | DnsFailure | undefined>)[type];
    if (set !== undefined && !Array.isArray(set)) {
      if (set.fail === "ETIMEOUT") return "timeout";
      return { rcode: set.fail === "EREFUSED" ? RCODE.REFUSED : set.fail === "ENOTFOUND" ? RCODE.NXDOMAIN : RCODE.SERVFAIL, answers: [], authority: [] };
    }
    if (set === undefined || set.length === 0) return { rcode: RCODE.NOERROR, answers: [], authority: [this.#soa(name)] };
    const code = RR_TYPES[type as keyof typeof RR_TYPES];
    return { rcode: RCODE.NOERROR, answers: set.map((value) => ({ name, type: code, ttl: this.#ttl, rdata: rdataOf(type, value) })), authority: [] };
  }

  /** The SOA of the zone a name is in: its last two labels, which is how the test zones are cut. */
  #soa(name: string): ResourceRecord {
    const zone = name.split(".").slice(-2).join(".");
    const numbers = Buffer.alloc(20);
    [1, 3600, 600, 86_400, this.#ttl].forEach((value, index) => numbers.writeUInt32BE(value, index * 4));
    return { name: zone, type: RR_TYPES.SOA, ttl: this.#ttl, rdata: Buffer.concat([encodeName(`ns.${zone}`), encodeName(`hostmaster.${zone}`), numbers]) };
  }

  /** RFC 1035 §4.2.2: each message is preceded by its two-octet length. */
  #serveTcp(socket: Socket): void {
    this.#tcpSockets.add(socket);
    socket.on("close", () => this.#tcpSockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const answer = this.answer(message, "tcp");
        if (answer !== null) socket.write(Buffer.concat([u16(answer.length), answer]));
      }
    });
  }
}

/** Starts a server with the given records on 127.0.0.1. */
export async function startDnsServer(table: DnsServerTable = {}, options: DnsServerOptions = {}): Promise<TestDnsServer> {
  const server = new TestDnsServer(table, options);
  await server.listen();
  return server;
}
