// DNS messages on the wire (RFC 1035 §4.1) for the DNSSEC-aware stub client (net/dns-client.ts):
// a query is built with the AD bit set, which asks a validating resolver to say whether it
// validated the answer (RFC 6840 §5.7) without the RRSIG bulk that the DO bit would bring, and an
// EDNS OPT record offering a 1232-octet UDP payload (RFC 6891 §6.2.5, the DNS flag day size).
// Answers are parsed defensively: they come from the network, so every length and compression
// pointer is bounds-checked and a malformed message is a value (`{ ok: false }`), never a throw.
// Only the record types outbound delivery reads are decoded (A, AAAA, MX, CNAME, TXT, TLSA); others
// keep their raw RDATA.

export const DNS_TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, OPT: 41, TLSA: 52 } as const;
export type DnsTypeName = keyof typeof DNS_TYPES;

export const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"] as const;

/** A TLSA record's fields (RFC 6698 §2.1). */
export interface TlsaData {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

export type RecordData =
  | { type: "A" | "AAAA"; address: string }
  | { type: "MX"; preference: number; exchange: string }
  | { type: "CNAME"; target: string }
  | { type: "TLSA"; tlsa: TlsaData }
  /** Character-strings (RFC 1035 §3.3.14), each decoded as latin1. */
  | { type: "TXT"; strings: string[] }
  | { type: "other"; code: number; raw: Buffer };

export interface DnsRecord {
  /** Lower case, no trailing dot. */
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RecordData;
}

export interface DnsResponse {
  id: number;
  /** Header bits (RFC 1035 §4.1.1; AD and CD from RFC 4035 §3.2). */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  /** The RCODE, with the EDNS extended bits when an OPT record carries them (RFC 6891 §6.1.3). */
  rcode: number;
  question: { name: string; type: number; class: number } | null;
  answers: DnsRecord[];
  authority: DnsRecord[];
}

export type ParseResult = { ok: true; message: DnsResponse } | { ok: false; error: string };

class MalformedMessage extends Error {}

const MAX_NAME_OCTETS = 255;
const MAX_POINTER_JUMPS = 64;
const MAX_RECORDS = 512;

/** A query for one name and type (RFC 1035 §4.1.2), RD and AD set, with an EDNS OPT record. */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  // RD (0x0100) and AD (0x0020): RFC 6840 §5.7, a validating resolver answers AD only when asked.
  header.writeUInt16BE(0x0100 | 0x0020, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 10);
  const question = Buffer.alloc(4);
  question.writeUInt16BE(type, 0);
  question.writeUInt16BE(1, 2);
  // OPT: root owner, type 41, CLASS = UDP payload size, TTL = extended RCODE/version/flags, no RDATA.
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, encodeName(name), question, opt]);
}

/** RFC 1035 §3.1 labels; throws RangeError on a name that cannot be a DNS name (our input, not the network's). */
export function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").split(".");
  const parts: Buffer[] = [];
  let total = 1;
  if (name !== "" && name !== ".") {
    for (const label of labels) {
      const bytes = Buffer.from(label, "ascii");
      if (bytes.length === 0 || bytes.length > 63 || !/^[\x21-\x7e]+$/.test(label)) throw new RangeError(`not a DNS name: ${JSON.stringify(name)}`);
      total += bytes.length + 1;
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  if (total > MAX_NAME_OCTETS) throw new RangeError(`DNS name longer than 255 octets: ${name.slice(0, 40)}…`);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** Parses a response; anything malformed is `{ ok: false }` with the reason. */
export function parseResponse(bytes: Uint8Array): ParseResult {
  try {
    return { ok: true, message: decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) };
  } catch (error) {
    if (error instanceof MalformedMessage || error instanceof RangeError) return { ok: false, error: error.message };
    return { ok: false, error: `malformed DNS message: ${String(error)}` };
  }
}

function need(message: Buffer, offset: number, length: number): void {
  if (offset < 0 || offset + length > message.length) throw new MalformedMessage(`DNS message truncated at octet ${offset}`);
}

/** A name at `offset` with compression pointers followed (RFC 1035 §4.1.4); `end` is past it in place. */
function decodeName(message: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let position = offset;
  let end = -1;
  let octets = 1;
  for (let jumps = 0; ; ) {
    need(message, position, 1);
    const length = message[position]!;
    if (length === 0) {
      if (end < 0) end = position + 1;
      break;
    }
    const kind = length & 0xc0;
    if (kind === 0xc0) {
      need(message, position, 2);
      if (++jumps > MAX_POINTER_JUMPS) throw new MalformedMessage("DNS name compression loop");
      const target = ((length & 0x3f) << 8) | message[position + 1]!;
      if (end < 0) end = position + 2;
      // A pointer must go backwards; anything else could loop or read ahead of itself.
      if (target >= position) throw new MalformedMessage("DNS name pointer does not point backwards");
      position = target;
      continue;
    }
    if (kind !== 0) throw new MalformedMessage("DNS label with reserved type bits");
    need(message, position + 1, length);
    octets += length + 1;
    if (octets > MAX_NAME_OCTETS) throw new MalformedMessage("DNS name longer than 255 octets");
    labels.push(message.toString("latin1", position + 1, position + 1 + length));
    position += 1 + length;
  }
  return { name: labels.join(".").toLowerCase(), end };
}

function decode(message: Buffer): DnsResponse {
  need(message, 0, 12);
  const flags = message.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((at) => message.readUInt16BE(at)) as [number, number, number, number];
  if (counts[0] > 1) throw new MalformedMessage("more than one question");
  if (counts[1] + counts[2] + counts[3] > MAX_RECORDS) throw new MalformedMessage("too many records");
  let offset = 12;
  let question: DnsResponse["question"] = null;
  if (counts[0] === 1) {
    const name = decodeName(message, offset);
    need(message, name.end, 4);
    question = { name: name.name, type: message.readUInt16BE(name.end), class: message.readUInt16BE(name.end + 2) };
    offset = name.end + 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  let extendedRcode = 0;
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section + 1]!; i++) {
      const owner = decodeName(message, offset);
      need(message, owner.end, 10);
      const type = message.readUInt16BE(owner.end);
      const klass = message.readUInt16BE(owner.end + 2);
      const ttl = message.readUInt32BE(owner.end + 4);
      const length = message.readUInt16BE(owner.end + 8);
      const start = owner.end + 10;
      need(message, start, length);
      offset = start + length;
      if (type === DNS_TYPES.OPT) {
        extendedRcode = (ttl >>> 24) & 0xff;
        continue;
      }
      sections[section]!.push({ name: owner.name, type, class: klass, ttl, data: decodeData(message, type, start, length) });
    }
  }
  return {
    id: message.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: (extendedRcode << 4) | (flags & 0xf),
    question,
    answers: sections[0]!,
    authority: sections[1]!,
  };
}

function decodeData(message: Buffer, type: number, start: number, length: number): RecordData {
  const raw = message.subarray(start, start + length);
  switch (type) {
    case DNS_TYPES.A:
      if (length !== 4) throw new MalformedMessage("A record of the wrong length");
      return { type: "A", address: [...raw].join(".") };
    case DNS_TYPES.AAAA: {
      if (length !== 16) throw new MalformedMessage("AAAA record of the wrong length");
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
      return { type: "AAAA", address: compressIpv6(groups) };
    }
    case DNS_TYPES.MX: {
      if (length < 3) throw new MalformedMessage("MX record too short");
      const exchange = decodeName(message, start + 2);
      if (exchange.end !== start + length) throw new MalformedMessage("MX record length does not match its name");
      return { type: "MX", preference: raw.readUInt16BE(0), exchange: exchange.name };
    }
    case DNS_TYPES.CNAME: {
      const target = decodeName(message, start);
      if (target.end !== start + length) throw new MalformedMessage("CNAME record length does not match its name");
      return { type: "CNAME", target: target.name };
    }
    case DNS_TYPES.TXT: {
      const strings: string[] = [];
      for (let at = 0; at < length; ) {
        const size = raw[at]!;
        if (at + 1 + size > length) throw new MalformedMessage("TXT character-string runs past its record");
        strings.push(raw.toString("latin1", at + 1, at + 1 + size));
        at += 1 + size;
      }
      return { type: "TXT", strings };
    }
    case DNS_TYPES.TLSA:
      // RFC 6698 §2.1: usage, selector, matching type (one octet each), then the association data.
      if (length < 3) throw new MalformedMessage("TLSA record too short");
      return { type: "TLSA", tlsa: { usage: raw[0]!, selector: raw[1]!, matchingType: raw[2]!, data: Buffer.from(raw.subarray(3)) } };
    default:
      return { type: "other", code: type, raw: Buffer.from(raw) };
  }
}

/** RFC 5952 §4.2: the longest run of two or more zero groups becomes "::". */
function compressIpv6(groups: string[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLength).join(":")}`;
}
