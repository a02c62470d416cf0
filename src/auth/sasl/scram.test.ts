import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { deriveScramKeys } from "../scram-keys.js";
import type { ScramHash } from "../scram-keys.js";
import { DEFAULT_SASL_LIMITS } from "./mechanism.js";
import type { SaslMechanism, SaslStep } from "./mechanism.js";
import { createMechanism } from "./registry.js";
import { decodeSaslName, encodeSaslName, parseClientFirst } from "./scram.js";
import type { ChannelBindings, ScramLookup } from "./scram.js";

const utf8 = (s: string) => Buffer.from(s, "utf8");
const text = (step: SaslStep) => (step.kind === "challenge" ? step.challenge.toString("utf8") : assert.fail(`expected a challenge, got ${JSON.stringify(step)}`));

async function lookupFor(password: string, salt: Buffer, iterations: number, extra: { password: string; credential: string }[] = []) {
  const keys = await deriveScramKeys(password, salt, iterations);
  const others = await Promise.all(extra.map(async (e) => ({ keys: await deriveScramKeys(e.password, salt, iterations), credential: e.credential })));
  return async (_user: string, hash: ScramHash): Promise<ScramLookup> => ({
    kind: "credentials",
    salt,
    iterations,
    keys: [{ ...keys[hash], credential: "password" }, ...others.map((o) => ({ ...o.keys[hash], credential: o.credential }))],
  });
}

function mechanism(name: string, lookup: (user: string, hash: ScramHash) => Promise<ScramLookup>, channelBindings: ChannelBindings | null = null, serverNonce = "snonce"): SaslMechanism {
  const m = createMechanism(name, DEFAULT_SASL_LIMITS, { scram: { lookup, channelBindings, serverNonce: () => serverNonce } });
  assert.ok(m);
  return m;
}

/** A minimal client computation for the tests below (the e2e tests use test/harness/scram-client.ts). */
function clientFinal(hash: ScramHash, password: string, bare: string, serverFirst: string, gs2: string, cbData = Buffer.alloc(0), nonceOverride?: string): string {
  const fields = Object.fromEntries(serverFirst.split(",").map((p) => [p[0], p.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(fields.s!, "base64"), Number(fields.i), hash === "sha1" ? 20 : 32, hash);
  const clientKey = createHmac(hash, salted).update("Client Key").digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const withoutProof = `c=${Buffer.concat([utf8(gs2), cbData]).toString("base64")},r=${nonceOverride ?? fields.r}`;
  const signature = createHmac(hash, storedKey).update(`${bare},${serverFirst},${withoutProof}`).digest();
  return `${withoutProof},p=${Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString("base64")}`;
}

test("RFC 5802 §5 test vector (SCRAM-SHA-1): server-first and server-final byte for byte", async () => {
  const lookup = await lookupFor("pencil", Buffer.from("QSXCR+Q6sek8bf92", "base64"), 4096);
  const m = mechanism("SCRAM-SHA-1", lookup, null, "3rfcNHYJY1ZVvWVs7j");
  assert.equal(text(await m.start(utf8("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"))), "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
  const final = await m.next(utf8("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
  assert.equal(text(final), "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
  assert.deepEqual(await m.next(Buffer.alloc(0)), {
    kind: "done",
    credentials: { kind: "scram", mechanism: "SCRAM-SHA-1", authcid: "user", authzid: null, credential: "password", failure: null },
  });
});

test("RFC 7677 §3 test vector (SCRAM-SHA-256)", async () => {
  const lookup = await lookupFor("pencil", Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"), 4096);
  const m = mechanism("SCRAM-SHA-256", lookup, null, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  assert.equal(text(await m.start(utf8("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))), "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  const final = await m.next(utf8("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
  assert.equal(text(final), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  const done = await m.next(Buffer.alloc(0));
  assert.equal(done.kind === "done" && done.credentials.kind === "scram" && done.credentials.credential, "password");
});

test("without an initial response the server asks with an empty challenge", async () => {
  const m = mechanism("SCRAM-SHA-256", await lookupFor("pw", Buffer.from("salt"), 4096));
  assert.deepEqual(await m.start(null), { kind: "challenge", challenge: Buffer.alloc(0) });
  assert.match(text(await m.next(utf8("n,,n=u,r=abc"))), /^r=abcsnonce,s=c2FsdA==,i=4096$/);
});

const failureOf = (step: SaslStep) => (step.kind === "done" && step.credentials.kind === "scram" ? step.credentials.failure : `not a scram outcome: ${JSON.stringify(step)}`);

test("a wrong password, a wrong nonce, a replayed final message and a non-empty acknowledgement all fail", async () => {
  const lookup = await lookupFor("right", Buffer.from("salt-salt"), 4096);
  const bare = "n=user,r=cn";
  let m = mechanism("SCRAM-SHA-256", lookup);
  let sf = text(await m.start(utf8(`n,,${bare}`)));
  assert.equal(failureOf(await m.next(utf8(clientFinal("sha256", "wrong", bare, sf, "n,,")))), "invalid-proof");

  m = mechanism("SCRAM-SHA-256", lookup);
  sf = text(await m.start(utf8(`n,,${bare}`)));
  assert.equal(failureOf(await m.next(utf8(clientFinal("sha256", "right", bare, sf, "n,,", undefined, "cnOTHER")))), "nonce-mismatch");

  // A final message captured from one exchange, replayed in another: the server nonce differs.
  m = mechanism("SCRAM-SHA-256", lookup, null, "first");
  sf = text(await m.start(utf8(`n,,${bare}`)));
  const captured = clientFinal("sha256", "right", bare, sf, "n,,");
  const replay = mechanism("SCRAM-SHA-256", lookup, null, "second");
  await replay.start(utf8(`n,,${bare}`));
  assert.equal(failureOf(await replay.next(utf8(captured))), "nonce-mismatch");

  m = mechanism("SCRAM-SHA-256", lookup);
  sf = text(await m.start(utf8(`n,,${bare}`)));
  text(await m.next(utf8(clientFinal("sha256", "right", bare, sf, "n,,"))));
  assert.equal(failureOf(await m.next(utf8("extra"))), "malformed");
  assert.deepEqual(await m.next(Buffer.alloc(0)), { kind: "error", reason: "unexpected-response" });
});

test("an app password's keys under the same salt match and are named in the outcome", async () => {
  const lookup = await lookupFor("main", Buffer.from("salt-salt"), 4096, [{ password: "app-secret", credential: "app:7" }]);
  const m = mechanism("SCRAM-SHA-1", lookup);
  const sf = text(await m.start(utf8("n,,n=user,r=x")));
  text(await m.next(utf8(clientFinal("sha1", "app-secret", "n=user,r=x", sf, "n,,"))));
  const done = await m.next(Buffer.alloc(0));
  assert.equal(done.kind === "done" && done.credentials.kind === "scram" ? done.credentials.credential : null, "app:7");
});

test("channel binding: -PLUS needs p= with matching data; y on a binding link is a downgrade", async () => {
  const lookup = await lookupFor("pw", Buffer.from("salt-salt"), 4096);
  const exporter = Buffer.alloc(32, 7);
  const bindings: ChannelBindings = { "tls-exporter": exporter, "tls-server-end-point": Buffer.alloc(32, 9) };
  for (const [name, data] of [["tls-exporter", exporter], ["tls-server-end-point", Buffer.alloc(32, 9)]] as const) {
    const gs2 = `p=${name},,`;
    const m = mechanism("SCRAM-SHA-256-PLUS", lookup, bindings);
    const sf = text(await m.start(utf8(`${gs2}n=u,r=c`)));
    assert.match(text(await m.next(utf8(clientFinal("sha256", "pw", "n=u,r=c", sf, gs2, data)))), /^v=/);
  }
  // Data from another TLS connection (a man in the middle terminating TLS) does not match.
  let m = mechanism("SCRAM-SHA-256-PLUS", lookup, bindings);
  let sf = text(await m.start(utf8("p=tls-exporter,,n=u,r=c")));
  assert.equal(failureOf(await m.next(utf8(clientFinal("sha256", "pw", "n=u,r=c", sf, "p=tls-exporter,,", Buffer.alloc(32, 1))))), "channel-bindings-dont-match");
  // The gs2 header in c= must be the one sent first (flag flipped from y to n after the fact).
  m = mechanism("SCRAM-SHA-256", lookup, null);
  sf = text(await m.start(utf8("y,,n=u,r=c")));
  assert.equal(failureOf(await m.next(utf8(clientFinal("sha256", "pw", "n=u,r=c", sf, "n,,")))), "channel-bindings-dont-match");

  assert.equal(failureOf(await mechanism("SCRAM-SHA-256", lookup, bindings).start(utf8("y,,n=u,r=c"))), "downgrade-detected");
  assert.equal(text(await mechanism("SCRAM-SHA-256", lookup, null).start(utf8("y,,n=u,r=c"))).startsWith("r=c"), true);
  assert.equal(failureOf(await mechanism("SCRAM-SHA-256", lookup, bindings).start(utf8("p=tls-exporter,,n=u,r=c"))), "channel-binding-not-supported");
  assert.equal(failureOf(await mechanism("SCRAM-SHA-256-PLUS", lookup, bindings).start(utf8("n,,n=u,r=c"))), "channel-binding-required");
  assert.equal(failureOf(await mechanism("SCRAM-SHA-256-PLUS", lookup, bindings).start(utf8("p=tls-unique,,n=u,r=c"))), "unsupported-channel-binding-type");
  assert.equal(failureOf(await mechanism("SCRAM-SHA-256-PLUS", lookup, { "tls-server-end-point": Buffer.alloc(32) }).start(utf8("p=tls-exporter,,n=u,r=c"))), "unsupported-channel-binding-type");
});

test("malformed client-first messages fail cleanly, before any lookup", async () => {
  let lookups = 0;
  const lookup = async (): Promise<ScramLookup> => {
    lookups += 1;
    return { kind: "credentials", salt: Buffer.from("s"), iterations: 4096, keys: [] };
  };
  const cases: [string, string][] = [
    ["", "malformed"],
    ["n,,", "malformed"],
    ["x,,n=u,r=c", "malformed"],
    ["n,,r=c,n=u", "malformed"],
    ["n,,n=,r=c", "malformed"],
    ["n,,n=u=,r=c", "malformed"],
    ["n,,n=u,r=", "malformed"],
    ["n,,n=u,r=a,b", "malformed"],
    ["n,,m=ext,n=u,r=c", "extensions-not-supported"],
    ["n,b=x,n=u,r=c", "malformed"],
    ["n,a=other,n=u,r=c", "authzid-mismatch"],
    [`n,,n=u,r=${"x".repeat(300)}`, "malformed"],
    [`n,,n=${"u".repeat(300)},r=c`, "malformed"],
  ];
  for (const [message, reason] of cases) assert.equal(failureOf(await mechanism("SCRAM-SHA-256", lookup).start(utf8(message))), reason, message);
  assert.equal(failureOf(await mechanism("SCRAM-SHA-256", lookup).start(Buffer.from([0xff, 0xfe]))), "malformed");
  assert.equal(lookups, 0);
  // An authzid naming the user itself is fine (case-insensitively), and the name escapes decode.
  assert.match(text(await mechanism("SCRAM-SHA-256", lookup).start(utf8("n,a=U,n=u,r=c"))), /^r=c/);
  assert.equal(decodeSaslName("a=2Cb=3Dc"), "a,b=c");
  assert.equal(encodeSaslName("a,b=c"), "a=2Cb=3Dc");
  assert.equal(decodeSaslName("a=2"), null);
  assert.ok(!("error" in parseClientFirst("n,,n=a=2Cb,r=x,e=ext", DEFAULT_SASL_LIMITS)));
});

test("malformed client-final messages fail cleanly", async () => {
  const lookup = await lookupFor("pw", Buffer.from("salt-salt"), 4096);
  const finals = ["", "c=biws", "c=biws,r=csnonce", "r=csnonce,c=biws,p=AAAA", "c=bi!s,r=csnonce,p=AAAA", "c=biws,r=csnonce,p=AAAA", "c=biws,r=csnonce,p=" + "A".repeat(44), "c=biws,r=csnonce,1,p=AAAA"];
  for (const final of finals) {
    const m = mechanism("SCRAM-SHA-256", lookup);
    await m.start(utf8("n,,n=u,r=c"));
    const outcome = failureOf(await m.next(utf8(final)));
    assert.ok(outcome === "malformed" || outcome === "invalid-proof", `${final}: ${outcome}`);
  }
});

test("a lookup refusal (throttle, store down) ends the exchange at once", async () => {
  const m = mechanism("SCRAM-SHA-1", async () => ({ kind: "refused", reason: "throttled" }));
  assert.equal(failureOf(await m.start(utf8("n,,n=u,r=c"))), "throttled");
});

test("SCRAM needs the server's key lookup: without it the mechanism cannot be created", () => {
  assert.equal(createMechanism("SCRAM-SHA-256"), null);
  assert.equal(createMechanism("SCRAM-SHA-1-PLUS", DEFAULT_SASL_LIMITS, {}), null);
});

test("property: arbitrary bytes at each step never throw and never succeed", async () => {
  const lookup = await lookupFor("pw", Buffer.from("salt-salt"), 4096);
  await fc.assert(
    fc.asyncProperty(fc.constantFrom("SCRAM-SHA-1", "SCRAM-SHA-256-PLUS"), fc.array(fc.uint8Array({ maxLength: 120 }), { minLength: 1, maxLength: 4 }), async (name, messages) => {
      const m = mechanism(name, lookup, { "tls-exporter": Buffer.alloc(32) });
      let step = await m.start(Buffer.from(messages[0]!));
      for (const message of messages.slice(1)) {
        if (step.kind !== "challenge") break;
        step = await m.next(Buffer.from(message));
      }
      if (step.kind === "done") assert.equal(step.credentials.kind === "scram" && step.credentials.credential, null);
    }),
    { numRuns: 200 },
  );
});
