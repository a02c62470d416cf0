// The optional external scanner: rspamd over its HTTP protocol (POST /checkv2 on the normal
// worker, rspamd.com/doc/developers/protocol.html). The message is streamed, never buffered;
// the envelope goes in the request headers (IP, Helo, From, Rcpt, Queue-Id) so rspamd's SPF,
// RBL and ratelimit modules see what we saw. The answer is bounded and parsed defensively: a
// scanner that is down, slow or answers nonsense is an error the caller handles by its policy
// (spam.rspamd_failure), never a crash.
import { request } from "node:http";
import type { Readable } from "node:stream";

export interface RspamdRequest {
  readonly url: string;
  readonly timeoutMs: number;
  readonly message: Readable;
  readonly size: number;
  readonly clientIp: string;
  readonly heloName: string | null;
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  readonly queueId: string;
}

export interface RspamdResult {
  readonly score: number;
  readonly requiredScore: number;
  /** "no action", "greylist", "add header", "rewrite subject", "soft reject", "reject". */
  readonly action: string;
  /** Symbols with a non-zero score, heaviest first. */
  readonly symbols: readonly { readonly name: string; readonly score: number }[];
}

/** Largest answer read: rspamd's answers are a few KB; anything bigger is not rspamd. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** Header values must not carry CR/LF (an address from the envelope is already free of them). */
const headerSafe = (value: string) => value.replace(/[\r\n]/g, "");

export function parseRspamdAnswer(text: string): RspamdResult {
  const answer = JSON.parse(text) as unknown;
  if (typeof answer !== "object" || answer === null) throw new Error("rspamd answer is not an object");
  const record = answer as Record<string, unknown>;
  const score = Number(record["score"]);
  const action = record["action"];
  if (!Number.isFinite(score) || typeof action !== "string") throw new Error("rspamd answer has no score or action");
  const symbols: { name: string; score: number }[] = [];
  const table = record["symbols"];
  if (typeof table === "object" && table !== null) {
    for (const [name, value] of Object.entries(table as Record<string, unknown>)) {
      const symbolScore = Number((value as { score?: unknown } | null)?.score);
      if (Number.isFinite(symbolScore) && symbolScore !== 0) symbols.push({ name, score: symbolScore });
    }
  }
  symbols.sort((a, b) => Math.abs(b.score) - Math.abs(a.score));
  const required = Number(record["required_score"]);
  return { score, requiredScore: Number.isFinite(required) ? required : 0, action, symbols };
}

export function checkWithRspamd(req: RspamdRequest): Promise<RspamdResult> {
  return new Promise((resolve, reject) => {
    const target = new URL("/checkv2", req.url);
    const headers: Record<string, string | string[]> = {
      "Content-Length": String(req.size),
      IP: headerSafe(req.clientIp),
      From: headerSafe(req.mailFrom),
      "Queue-Id": headerSafe(req.queueId),
    };
    if (req.heloName) headers["Helo"] = headerSafe(req.heloName);
    if (req.recipients.length > 0) headers["Rcpt"] = req.recipients.map(headerSafe);
    const call = request(target, { method: "POST", headers, timeout: req.timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      let length = 0;
      response.on("data", (chunk: Buffer) => {
        length += chunk.length;
        if (length > MAX_ANSWER_BYTES) {
          response.destroy();
          reject(new Error("rspamd answer too large"));
          return;
        }
        chunks.push(chunk);
      });
      response.on("end", () => {
        if (response.statusCode !== 200) {
          reject(new Error(`rspamd answered HTTP ${response.statusCode}`));
          return;
        }
        try {
          resolve(parseRspamdAnswer(Buffer.concat(chunks).toString("utf8")));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      response.on("error", reject);
    });
    const timer = setTimeout(() => call.destroy(new Error(`rspamd did not answer within ${req.timeoutMs} ms`)), req.timeoutMs);
    call.on("close", () => clearTimeout(timer));
    call.on("timeout", () => call.destroy(new Error(`rspamd did not answer within ${req.timeoutMs} ms`)));
    call.on("error", (error) => {
      req.message.destroy();
      reject(error);
    });
    req.message.on("error", (error) => call.destroy(error));
    req.message.pipe(call);
  });
}
