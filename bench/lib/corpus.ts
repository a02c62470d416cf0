// Deterministic message corpora: the same seed gives byte-identical messages on every machine, so
// both servers receive exactly the same mail. Shapes cycle through what real mailboxes hold: plain
// text, HTML with a text alternative, attachments, a forwarded message/rfc822, and headers with
// non-ASCII text (RFC 2047 encoded words). Every 50th message carries the word SEARCH_NEEDLE, so
// UID SEARCH TEXT has something to find.

export const SEARCH_NEEDLE = "zanzibarquartz";
const SHAPES = ["plain", "alternative", "attachment", "forwarded", "international"] as const;
export type MessageShape = (typeof SHAPES)[number];

/** mulberry32: small, fast, and good enough to vary test data; not for anything secret. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ["ka", "lo", "mer", "tin", "sa", "ver", "do", "pli", "an", "quo", "rest", "ma", "ne", "ul", "tor", "bi", "en", "gra", "fu", "sto"];
const NON_ASCII = ["Grüße aus Köln", "Ça coûte très cher", "東京の会議", "Привет, коллеги", "Αθήνα ✓", "Zażółć gęślą jaźń", "¿Qué tal? — ñandú"];

function word(random: () => number): string {
  const n = 1 + Math.floor(random() * 3);
  let w = "";
  for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(random() * SYLLABLES.length)]!;
  return w;
}

/** Text lines of at most 76 characters (RFC 5322 §2.1.1 recommends 78) adding up to about `bytes`. */
function prose(random: () => number, bytes: number, needle: boolean): string {
  const lines: string[] = [];
  let total = 0;
  let line = needle ? SEARCH_NEEDLE : "";
  while (total + line.length < bytes) {
    const next = word(random);
    if (line.length + next.length + 1 > 76) {
      lines.push(line);
      total += line.length + 2;
      line = next;
    } else {
      line = line.length === 0 ? next : `${line} ${next}`;
    }
  }
  lines.push(line);
  return lines.join("\r\n") + "\r\n";
}

function base64Lines(random: () => number, bytes: number): string {
  const raw = Buffer.alloc(Math.max(1, Math.floor((bytes * 3) / 4)));
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(random() * 256);
  return raw.toString("base64").replace(/.{1,76}/g, "$&\r\n");
}

const encodedWord = (text: string): string => `=?UTF-8?B?${Buffer.from(text, "utf8").toString("base64")}?=`;

function dateOf(index: number): string {
  return new Date(Date.UTC(2024, 0, 1) + index * 61_000).toUTCString().replace("GMT", "+0000");
}

interface Envelope {
  index: number;
  from: string;
  to: string;
  subject: string;
}

function headers(env: Envelope, contentHeaders: string): string {
  return (
    `From: Bench Sender <${env.from}>\r\nTo: <${env.to}>\r\nSubject: ${env.subject}\r\nDate: ${dateOf(env.index)}\r\n` +
    `Message-ID: <${env.index}.bench@corpus.invalid>\r\nMIME-Version: 1.0\r\n${contentHeaders}\r\n`
  );
}

function render(shape: MessageShape, env: Envelope, bytes: number, random: () => number, needle: boolean): string {
  const boundary = `=_bench_${env.index}_${Math.floor(random() * 1e9)}`;
  const text = (n: number) => prose(random, n, needle);
  switch (shape) {
    case "plain":
      return headers(env, "Content-Type: text/plain; charset=us-ascii\r\n") + text(bytes);
    case "international":
      return (
        headers({ ...env, subject: `${encodedWord(NON_ASCII[env.index % NON_ASCII.length]!)} ${env.subject}` }, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n") +
        Buffer.from(`${NON_ASCII.join("\n")}\n${text(bytes)}`, "utf8").toString("base64").replace(/.{1,76}/g, "$&\r\n")
      );
    case "alternative": {
      const half = Math.floor(bytes / 2);
      return (
        headers(env, `Content-Type: multipart/alternative; boundary="${boundary}"\r\n`) +
        `--${boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${text(half)}` +
        `--${boundary}\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<html><body><p>\r\n${text(half).replace(/\r\n/g, "<br>\r\n")}</p></body></html>\r\n` +
        `--${boundary}--\r\n`
      );
    }
    case "attachment":
      return (
        headers(env, `Content-Type: multipart/mixed; boundary="${boundary}"\r\n`) +
        `--${boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${text(Math.min(2000, bytes / 4))}` +
        `--${boundary}\r\nContent-Type: application/octet-stream; name="data-${env.index}.bin"\r\nContent-Disposition: attachment; filename="data-${env.index}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
        base64Lines(random, bytes * 0.75) +
        `--${boundary}--\r\n`
      );
    case "forwarded": {
      const inner = render("plain", { ...env, subject: `inner ${env.subject}`, from: "original@corpus.invalid" }, bytes * 0.7, random, false);
      return (
        headers({ ...env, subject: `Fwd: ${env.subject}` }, `Content-Type: multipart/mixed; boundary="${boundary}"\r\n`) +
        `--${boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${text(bytes * 0.25)}` +
        `--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n${inner}` +
        `--${boundary}--\r\n`
      );
    }
  }
}

/** Varied sizes for populated mailboxes: mostly small, some medium, a few large (mean ~12 KB). */
function variedSize(random: () => number): number {
  const r = random();
  if (r < 0.65) return 1_000 + Math.floor(random() * 5_000);
  if (r < 0.93) return 6_000 + Math.floor(random() * 24_000);
  return 30_000 + Math.floor(random() * 90_000);
}

export interface CorpusOptions {
  seed: number;
  count: number;
  /** Approximate size of every message in bytes; omitted: varied sizes. */
  bytes?: number;
  to: string;
  from?: string;
  /** First message index (for Message-ID and Date), so several corpora never collide. */
  firstIndex?: number;
}

/** Messages with CRLF line endings, as they would sit in a mailbox (not dot-stuffed). */
export function* generateCorpus(options: CorpusOptions): Generator<Buffer> {
  const random = seededRandom(options.seed);
  const first = options.firstIndex ?? 0;
  for (let i = 0; i < options.count; i++) {
    const index = first + i;
    const bytes = options.bytes ?? variedSize(random);
    const shape = SHAPES[index % SHAPES.length]!;
    const env = { index, from: options.from ?? "sender@corpus.invalid", to: options.to, subject: `message ${index} ${word(random)}` };
    const body = render(shape, env, Math.max(200, bytes - 400), random, index % 50 === 0);
    yield Buffer.from(body, "utf8");
  }
}

export function corpusArray(options: CorpusOptions): Buffer[] {
  return [...generateCorpus(options)];
}
