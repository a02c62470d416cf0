// The admin sign-in's second factor (issue 22): `mailroom admin totp enable|confirm|status|disable`
// through the real CLI on a real store, then the admin API's sign-in against a whole composed server
// on that store: no code means 401 code-required and no session; a wrong code, a code used before
// and a used recovery code are refused and counted by the throttle shared with the mail protocols
// (enough of them lock the name out, the right password and code included); each code works once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { base32Decode, hotp, timeStep } from "../../src/auth/totp.js";
import { startFullServer } from "../harness/full-server.js";
import { makeScratch, runMailroom } from "../harness/mailroom-process.js";

const CHEAP = `[server]\nhostname = "mx.example.org"\n[auth]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\n`;

async function signIn(base: string, body: Record<string, unknown>): Promise<{ status: number; error: unknown; cookie: string | null }> {
  const response = await fetch(`${base}/api/v1/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await response.json().catch(() => null)) as { error?: string } | null;
  return { status: response.status, error: json?.error, cookie: response.headers.get("set-cookie") };
}

test("admin TOTP: enabled and confirmed through the CLI, then the admin sign-in asks for a code, each code once, wrong codes counted", async () => {
  const s = await makeScratch(CHEAP);
  try {
    const run = (args: string[], input?: string) => runMailroom(args, { env: s.env, input });
    assert.equal((await run(["--init", "admin", "add", "root"], "root password 1\n")).code, 0);
    assert.equal((await run(["admin", "totp", "status", "root"])).stdout.trim(), "admin root: TOTP off");
    assert.equal((await run(["admin", "totp", "enable", "ghost"])).code, 1, "no such admin");
    // Away from a step boundary, so the steps used below stay where they are for the test's seconds.
    if (Date.now() % 30_000 > 20_000) await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() % 30_000) + 200));
    const enabled = await run(["admin", "totp", "enable", "root"]);
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.match(enabled.stdout, /[▀▄█]/, "a QR code is printed for the app's camera");
    const secret = base32Decode(/^secret: ([A-Z2-7]+)$/m.exec(enabled.stdout)![1]!)!;
    assert.match(enabled.stdout, /^uri: otpauth:\/\/totp\/mx\.example\.org:root\?secret=/m);
    const recovery = [...enabled.stdout.matchAll(/^ {2}([a-z2-9]{5}-[a-z2-9]{5})$/gm)].map((m) => m[1]!);
    assert.equal(recovery.length, 10);
    assert.match((await run(["admin", "totp", "status", "root"])).stdout, /TOTP enrolling \(not confirmed\), 10 recovery codes left/);
    // The machine may be slow: codes are computed for the step current when they are sent.
    const now = () => timeStep(Date.now() / 1000);
    const step = now();
    const unused = new Set([step - 1, step, step + 1, step + 2, step + 3, step + 4].map((n) => hotp(secret, n)));
    let wrong = "123456";
    for (let n = 0; unused.has(wrong); n += 1) wrong = String(123457 + n);
    assert.equal((await run(["admin", "totp", "confirm", "root", wrong])).code, 1, "a wrong code does not confirm");
    const confirmed = await run(["admin", "totp", "confirm", "root", hotp(secret, now() - 1)]);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.match(confirmed.stdout, /admin root: TOTP on/);

    assert.equal((await run(["admin", "add", "ops"], "ops password 1\n")).code, 0);
    const opsSecret = base32Decode(/^secret: ([A-Z2-7]+)$/m.exec((await run(["admin", "totp", "enable", "ops"])).stdout)![1]!)!;
    assert.equal((await run(["admin", "totp", "confirm", "ops", hotp(opsSecret, now())])).code, 0);
    const opsUnused = new Set([step - 1, step, step + 1, step + 2, step + 3, step + 4].map((n) => hotp(opsSecret, n)));
    let wrongOps = "654321";
    for (let n = 0; opsUnused.has(wrongOps); n += 1) wrongOps = String(654322 + n);

    const server = await startFullServer({ dataDir: s.dataDir, authToml: 'throttle_base_delay = "10ms"\nthrottle_max_delay = "20ms"\nthrottle_lockout_account = 5\nthrottle_lockout_ip = 100' });
    try {
      const port = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
      const base = `http://127.0.0.1:${port}`;
      const page = await (await fetch(`${base}/admin/login`)).text();
      assert.match(page, /name="code"/, "the sign-in page has a code field");
      const noCode = await signIn(base, { name: "root", password: "root password 1" });
      assert.deepEqual([noCode.status, noCode.error, noCode.cookie], [401, "code-required", null], "the right password alone gets no session");
      assert.equal((await signIn(base, { name: "root", password: "root password 1", code: 123456 })).status, 400, "a code is a string");
      const bad = await signIn(base, { name: "root", password: "root password 1", code: wrong });
      assert.deepEqual([bad.status, bad.error, bad.cookie], [401, "invalid-credentials", null]);
      const badPassword = await signIn(base, { name: "root", password: "wrong password", code: hotp(secret, now()) });
      assert.equal(badPassword.error, "invalid-credentials", "a right code does not help a wrong password");
      const code = hotp(secret, now());
      const good = await signIn(base, { name: "root", password: "root password 1", code });
      assert.equal(good.status, 200);
      assert.match(good.cookie ?? "", /^mailroom_admin=/);
      const cookie = good.cookie!.split(";")[0]!;
      assert.equal((await fetch(`${base}/api/v1/domains`, { headers: { cookie } })).status, 200, "the session works");
      assert.equal((await signIn(base, { name: "root", password: "root password 1", code })).error, "invalid-credentials", "a code works once");
      assert.equal((await signIn(base, { name: "root", password: "root password 1", code: recovery[3] })).status, 200, "a recovery code signs in");
      assert.equal((await signIn(base, { name: "root", password: "root password 1", code: recovery[3] })).error, "invalid-credentials", "a recovery code works once");
      // Counted like wrong passwords: "ops" (never signed in, so no trusted address) is locked out
      // by wrong codes alone, and then even its right password and code are refused.
      for (let n = 0; n < 5; n += 1) assert.equal((await signIn(base, { name: "ops", password: "ops password 1", code: wrongOps })).status, 401);
      const locked = await signIn(base, { name: "ops", password: "ops password 1", code: hotp(opsSecret, now() + 1) });
      assert.equal(locked.status, 429, "wrong codes count in the shared throttle: the name is locked out");
    } finally {
      await server.stop();
    }
    assert.match((await run(["admin", "totp", "status", "root"])).stdout, /TOTP on, 9 recovery codes left/);
    assert.equal((await run(["admin", "totp", "disable", "root"])).code, 0);
    assert.equal((await run(["admin", "totp", "status", "root"])).stdout.trim(), "admin root: TOTP off");
  } finally {
    await s.cleanup();
  }
});
