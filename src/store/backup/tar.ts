// A small streaming tar (POSIX ustar, IEEE Std 1003.1-2001 "pax" format) for backup archives:
// regular files only, written and read one entry at a time, so no entry is ever held whole in
// memory. Names longer than the ustar fields are carried in a pax extended header ("path"), sizes
// of 8 GiB or more in the GNU base-256 form (also understood by GNU tar and bsdtar). The reader is
// strict: a header whose checksum does not add up, an unknown entry type or an archive that ends
// before its end-of-archive blocks is an error naming where it happened.
import type { Writable } from "node:stream";

export const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
/** Largest size the 11 octal digits of a ustar size field can express. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;
/** A pax extended header is read whole into memory: it only ever carries a path. */
const MAX_PAX_BYTES = 64 * 1024;

export class TarFormatError extends Error {
  override readonly name = "TarFormatError";
}

/** Writes tar entries to `out`, waiting for it to drain (back-pressure) between chunks. */
export class TarWriter {
  private written = 0;

  constructor(private readonly out: Writable) {}

  /** Bytes of tar written so far (before compression). */
  get position(): number {
    return this.written;
  }

  /** One regular file of exactly `size` bytes, its content from `chunks`. */
  async addFile(name: string, size: number, chunks: AsyncIterable<Buffer> | Iterable<Buffer>, mtime = new Date()): Promise<void> {
    if (Buffer.byteLength(name) > 100) await this.addPaxPath(name);
    await this.put(header(name, size, mtime, "0"));
    let seen = 0;
    for await (const chunk of chunks) {
      seen += chunk.length;
      if (seen > size) throw new TarFormatError(`${name}: more than the ${size} bytes announced (the file grew while being archived?)`);
      await this.put(chunk);
    }
    if (seen !== size) throw new TarFormatError(`${name}: ${seen} bytes instead of the ${size} announced (the file shrank while being archived?)`);
    await this.pad(size);
  }

  /** The end-of-archive marker: two zero blocks. */
  async finish(): Promise<void> {
    await this.put(ZERO_BLOCK);
    await this.put(ZERO_BLOCK);
  }

  private async addPaxPath(name: string): Promise<void> {
    const record = paxRecord("path", name);
    await this.put(header("PaxHeader", record.length, new Date(0), "x"));
    await this.put(record);
    await this.pad(record.length);
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest !== 0) await this.put(ZERO_BLOCK.subarray(0, BLOCK - rest));
  }

  private async put(chunk: Buffer): Promise<void> {
    this.written += chunk.length;
    if (!this.out.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const done = (error?: Error) => {
          this.out.off("drain", onDrain);
          this.out.off("error", done);
          this.out.off("close", onClose);
          if (error) reject(error);
          else resolve();
        };
        const onDrain = () => done();
        const onClose = () => done(new Error("the archive stream closed while writing"));
        this.out.once("drain", onDrain);
        this.out.once("error", done);
        this.out.once("close", onClose);
      });
    }
  }
}

/** "<length> <key>=<value>\n", where the length counts the whole record including its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length !== String(bodyLength).length) length = bodyLength + String(length).length;
  return Buffer.from(`${length}${body}`);
}

function header(name: string, size: number, mtime: Date, type: string): Buffer {
  const block = Buffer.alloc(BLOCK);
  // A name that needed a pax record still gets a (truncated) ustar name, as tar(1) writes.
  const nameBytes = Buffer.from(name).subarray(0, 100);
  nameBytes.copy(block, 0);
  block.write("0000644\0", 100, "ascii");
  block.write("0000000\0", 108, "ascii");
  block.write("0000000\0", 116, "ascii");
  writeSize(block, size);
  block.write(octal(Math.floor(mtime.getTime() / 1000), 11) + "\0", 136, "ascii");
  block.write("        ", 148, "ascii");
  block.write(type, 156, "ascii");
  block.write("ustar\0", 257, "ascii");
  block.write("00", 263, "ascii");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 6) + "\0 ", 148, "ascii");
  return block;
}

function octal(value: number, digits: number): string {
  return value.toString(8).padStart(digits, "0");
}

function writeSize(block: Buffer, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`bad entry size ${size}`);
  if (size <= MAX_OCTAL_SIZE) {
    block.write(octal(size, 11) + "\0", 124, "ascii");
    return;
  }
  // GNU base-256: the first byte's high bit set, the value big-endian in the other 11 bytes.
  block[124] = 0x80;
  let rest = BigInt(size);
  for (let i = 135; i > 124; i--) {
    block[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

function readSize(block: Buffer): number {
  if ((block[124]! & 0x80) !== 0) {
    let value = 0n;
    for (let i = 125; i < 136; i++) value = (value << 8n) | BigInt(block[i]!);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError("entry size out of range");
    return Number(value);
  }
  return readOctal(block, 124, 12, "size");
}

function readOctal(block: Buffer, offset: number, length: number, field: string): number {
  const text = block.toString("ascii", offset, offset + length).replace(/[\0 ]+$/, "").replace(/^ +/, "");
  if (!/^[0-7]*$/.test(text)) throw new TarFormatError(`bad ${field} field in a tar header`);
  return text === "" ? 0 : parseInt(text, 8);
}

function checksumMatches(block: Buffer): boolean {
  let recorded: number;
  try {
    recorded = readOctal(block, 148, 8, "checksum");
  } catch {
    return false;
  }
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === recorded;
}

/** Pull-reads exact byte counts from a stream of chunks. */
class ByteSource {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private ended = false;

  constructor(private readonly chunks: AsyncIterator<Buffer>) {}

  /** Up to `max` bytes (at least one), or null at the end of the input. */
  async next(max: number): Promise<Buffer | null> {
    if (this.bufferedBytes === 0 && !(await this.fill())) return null;
    const first = this.buffered[0]!;
    if (first.length <= max) {
      this.buffered.shift();
      this.bufferedBytes -= first.length;
      return first;
    }
    this.buffered[0] = first.subarray(max);
    this.bufferedBytes -= max;
    return first.subarray(0, max);
  }

  /** Exactly `n` bytes, or null when the input ends first (the bytes read are then lost). */
  async exact(n: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const part = await this.next(n - have);
      if (part === null) return null;
      parts.push(part);
      have += part.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const result = await this.chunks.next();
    if (result.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(result.value) ? result.value : Buffer.from(result.value);
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    return true;
  }
}

export interface TarEntry {
  name: string;
  size: number;
  /** The entry's bytes in chunks; must be consumed (or left: the reader skips the rest) before the next entry. */
  body(): AsyncGenerator<Buffer>;
}

/**
 * The entries of a tar stream, in order. `describe` says where the reader is ("after entry X")
 * for the errors. Throws TarFormatError on a damaged header, an unsupported entry type and a
 * stream that ends before the end-of-archive marker.
 */
export async function* readTar(chunks: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const source = new ByteSource(chunks[Symbol.asyncIterator]());
  let last = "the start of the archive";
  let paxPath: string | null = null;
  for (;;) {
    const block = await source.exact(BLOCK);
    if (block === null) throw new TarFormatError(`the archive is truncated: it ends after ${last} without the end-of-archive marker`);
    if (block.equals(ZERO_BLOCK)) {
      const second = await source.exact(BLOCK);
      if (second === null || !second.equals(ZERO_BLOCK)) throw new TarFormatError(`the archive is truncated or damaged after ${last}: one zero block instead of the end-of-archive marker`);
      return;
    }
    if (!checksumMatches(block)) throw new TarFormatError(`damaged tar header after ${last} (checksum mismatch)`);
    const type = String.fromCharCode(block[156]!);
    let size: number;
    try {
      size = readSize(block);
    } catch (error) {
      throw new TarFormatError(`damaged tar header after ${last} (${(error as Error).message})`);
    }
    const nameField = block.toString("utf8", 0, 100).replace(/\0.*$/s, "");
    const prefix = block.toString("ascii", 257, 263) === "ustar\0" ? block.toString("utf8", 345, 500).replace(/\0.*$/s, "") : "";
    const name = paxPath ?? (prefix ? `${prefix}/${nameField}` : nameField);
    paxPath = null;
    if (type === "x") {
      if (size > MAX_PAX_BYTES) throw new TarFormatError(`pax header after ${last} is too large (${size} bytes)`);
      const body = await source.exact(size);
      if (body === null) throw new TarFormatError(`the archive is truncated inside a pax header after ${last}`);
      await skipPadding(source, size, last);
      paxPath = parsePaxPath(body.toString("utf8"));
      continue;
    }
    if (type !== "0" && type !== "\0") throw new TarFormatError(`unsupported tar entry type ${JSON.stringify(type)} for ${name} after ${last}`);
    let remaining = size;
    const entryName = name;
    let consumed = false;
    const body = async function* (): AsyncGenerator<Buffer> {
      if (consumed) throw new Error(`the body of ${entryName} was already read`);
      consumed = true;
      while (remaining > 0) {
        const chunk = await source.next(Math.min(remaining, 256 * 1024));
        if (chunk === null) throw new TarFormatError(`the archive is truncated inside ${entryName} (${remaining} of its ${size} bytes missing)`);
        remaining -= chunk.length;
        yield chunk;
      }
    };
    yield { name, size, body };
    while (remaining > 0) {
      const chunk = await source.next(Math.min(remaining, 256 * 1024));
      if (chunk === null) throw new TarFormatError(`the archive is truncated inside ${entryName} (${remaining} of its ${size} bytes missing)`);
      remaining -= chunk.length;
    }
    await skipPadding(source, size, entryName);
    last = `entry ${name}`;
  }
}

async function skipPadding(source: ByteSource, size: number, where: string): Promise<void> {
  const rest = size % BLOCK;
  if (rest === 0) return;
  if ((await source.exact(BLOCK - rest)) === null) throw new TarFormatError(`the archive is truncated after ${where}`);
}

function parsePaxPath(text: string): string | null {
  let path: string | null = null;
  let at = 0;
  while (at < text.length) {
    const space = text.indexOf(" ", at);
    const length = Number(text.slice(at, space));
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0) throw new TarFormatError("malformed pax header");
    const record = Buffer.from(text.slice(at)).subarray(0, length).toString("utf8");
    const body = record.slice(record.indexOf(" ") + 1, -1);
    const eq = body.indexOf("=");
    if (eq > 0 && body.slice(0, eq) === "path") path = body.slice(eq + 1);
    at += record.length;
  }
  return path;
}
