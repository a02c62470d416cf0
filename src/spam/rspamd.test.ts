// rspamd answers parsed defensively: symbols sorted by weight, nonsense refused, and a server that
// answers garbage, too much, or nothing in time is an error (never a hang or a crash).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { Readable } from "node:stream";
import { checkWithRspamd, parseRspamdAnswer } from "./rspamd.js";

test("answers: score, action and the scoring symbols, heaviest first", () => {
  const answer = parseRspamdAnswer('{"score":7.5,"required_score":15,"action":"add header","symbols":{"A":{"score":1.5},"B":{"score":-3},"C":{"score":0},"D":{}}}');
  assert.equal(answer.score, 7.5);
  assert.equal(answer.action, "add header");
  assert.deepEqual(answer.symbols, [{ name: "B", score: -3 }, { name: "A", score: 1.5 }]);
  assert.throws(() => parseRspamdAnswer("[]"));
  assert.throws(() => parseRspamdAnswer('{"score":"x","action":"reject"}'));
  assert.throws(() => parseRspamdAnswer("not json"));
});

async function fakeRspamd(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

const request = (url: string, timeoutMs = 2000) =>
  checkWithRspamd({ url, timeoutMs, message: Readable.from([Buffer.from("Subject: x\r\n\r\nbody\r\n")]), size: 20, clientIp: "192.0.2.1", heloName: "h.test", mailFrom: "a@b.test", recipients: ["c@d.test", "e@f.test"], queueId: "Q1" });

test("the envelope travels in headers and the body is streamed with its length", async () => {
  let seen: { headers: Record<string, unknown>; body: string } | null = null;
  const { url, server } = await fakeRspamd((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c)).on("end", () => {
      seen = { headers: req.headers, body: Buffer.concat(parts).toString() };
      res.end('{"score":1,"required_score":15,"action":"no action","symbols":{}}');
    });
  });
  try {
    const answer = await request(url);
    assert.equal(answer.action, "no action");
    assert.equal(seen!.body, "Subject: x\r\n\r\nbody\r\n");
    assert.equal(seen!.headers["ip"], "192.0.2.1");
    assert.equal(seen!.headers["rcpt"], "c@d.test, e@f.test");
    assert.equal(seen!.headers["queue-id"], "Q1");
  } finally {
    server.close();
  }
});

test("HTTP errors, oversized answers and silence are errors", async () => {
  const failing = await fakeRspamd((_req, res) => {
    res.statusCode = 500;
    res.end("{}");
  });
  const huge = await fakeRspamd((req, res) => {
    req.resume();
    res.end("x".repeat(2 * 1024 * 1024));
  });
  const silent = await fakeRspamd((req) => req.resume());
  try {
    await assert.rejects(request(failing.url), /HTTP 500/);
    await assert.rejects(request(huge.url), /too large/);
    const started = Date.now();
    await assert.rejects(request(silent.url, 300), /did not answer/);
    assert.ok(Date.now() - started < 2000);
    await assert.rejects(request("http://127.0.0.1:9"), /ECONNREFUSED/);
  } finally {
    failing.server.close();
    huge.server.close();
    silent.server.closeAllConnections();
    silent.server.close();
  }
});
