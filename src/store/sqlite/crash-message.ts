// The self-checking messages of the crash test: each carries its id and the SHA-256 of its body
// in its header, so a reader can tell a whole message from a torn or mixed-up one.
import { createHash, randomBytes } from "node:crypto";

/** A message carrying its own id and the SHA-256 of its body, so the parent can check it. */
export function crashMessage(id: string, bodySize: number): Buffer {
  const lines: string[] = [];
  const raw = randomBytes(Math.ceil((bodySize * 3) / 4)).toString("base64");
  for (let i = 0; i < raw.length; i += 76) lines.push(raw.slice(i, i + 76));
  const body = Buffer.from(lines.join("\r\n") + "\r\n");
  const sha = createHash("sha256").update(body).digest("hex");
  const header = `Subject: crash ${id}\r\nX-Crash-Id: ${id}\r\nX-Crash-Sha256: ${sha}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n`;
  return Buffer.concat([Buffer.from(header), body]);
}

/** The id if the bytes are a whole, intact crash message; null otherwise. */
export function verifyCrashMessage(bytes: Buffer): string | null {
  const text = bytes.toString("latin1");
  const split = text.indexOf("\r\n\r\n");
  if (split < 0) return null;
  const id = /X-Crash-Id: (\S+)/.exec(text.slice(0, split))?.[1];
  const sha = /X-Crash-Sha256: ([0-9a-f]{64})/.exec(text.slice(0, split))?.[1];
  if (!id || !sha) return null;
  return createHash("sha256").update(bytes.subarray(split + 4)).digest("hex") === sha ? id : null;
}

