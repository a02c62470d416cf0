import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeContinuation, encodeMultiline, encodeResponse, err, ok } from "./response.js";

test("status lines carry RFC 2449 response codes and cannot be split by the text", () => {
  assert.equal(encodeResponse(ok("2 320")).toString(), "+OK 2 320\r\n");
  assert.equal(encodeResponse(err("maildrop busy", "IN-USE")).toString(), "-ERR [IN-USE] maildrop busy\r\n");
  assert.equal(encodeResponse(err("try later", "SYS/TEMP")).toString(), "-ERR [SYS/TEMP] try later\r\n");
  assert.equal(encodeResponse(ok("")).toString(), "+OK\r\n");
  assert.equal(encodeResponse(err("a\r\n+OK forged")).toString(), "-ERR a+OK forged\r\n");
  const long = encodeResponse(ok("é".repeat(600)));
  assert.ok(long.length <= 512, `${long.length} octets`);
  assert.ok(long.toString("utf8").endsWith("é\r\n"), "cut at a character boundary");
});

test("multi-line responses double a leading dot and end with a lone dot", () => {
  assert.equal(encodeMultiline(ok("capabilities follow"), ["TOP", ".hidden", "USER"]).toString(), "+OK capabilities follow\r\nTOP\r\n..hidden\r\nUSER\r\n.\r\n");
  assert.equal(encodeMultiline(ok("0 messages"), []).toString(), "+OK 0 messages\r\n.\r\n");
});

test("SASL continuation lines", () => {
  assert.equal(encodeContinuation("").toString(), "+ \r\n");
  assert.equal(encodeContinuation("VXNlcm5hbWU6").toString(), "+ VXNlcm5hbWU6\r\n");
});
