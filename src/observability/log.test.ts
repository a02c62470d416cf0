import { test } from "node:test";
import assert from "node:assert/strict";
import { createJsonLogger, createMemoryLogger } from "./log.js";

test("a log line is one JSON object with the bound connection id", () => {
  const lines: string[] = [];
  const log = createJsonLogger({ write: (l) => lines.push(l), clock: () => new Date(0) }).child({ conn: "c1" });
  log.info("session.start", { remote: "127.0.0.1" });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.endsWith("\n"));
  assert.deepEqual(JSON.parse(lines[0]!), { time: "1970-01-01T00:00:00.000Z", level: "info", event: "session.start", conn: "c1", remote: "127.0.0.1" });
});

test("credential fields never reach the log", () => {
  const log = createMemoryLogger();
  log.warn("auth.failed", { user: "a@example.org", password: "hunter2", passwordHash: "$argon2id$x", token: "t" });
  const record = log.records[0]!;
  assert.equal(record.user, "a@example.org");
  assert.equal(record.password, "[redacted]");
  assert.equal(record.passwordHash, "[redacted]");
  assert.equal(record.token, "[redacted]");
  assert.ok(!JSON.stringify(log.records).includes("hunter2"));
});

test("lines under the configured level are dropped", () => {
  const lines: string[] = [];
  const log = createJsonLogger({ level: "warn", write: (l) => lines.push(l) });
  log.info("ignored");
  log.error("kept");
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]!).event, "kept");
});
