// Outbound abuse limits end to end over submission (587, STARTTLS, AUTH) with nodemailer: the
// account's hourly message limit answers 451 4.7.1 with a clear text, the refusals are counted in
// /metrics, and with abuse.suspend_after_refusals the account is disabled (its next login fails)
// and the postmaster of its domain finds a notice in INBOX (read with python's imaplib).
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import nodemailer from "nodemailer";
import { createAdmin } from "../../src/server/compose.js";
import { startFullServer } from "../harness/full-server.js";
import { runPython } from "../harness/python.js";

const READ_POSTMASTER = `
import imaplib, json, ssl, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=ssl._create_unverified_context())
m.login("postmaster@example.org", "postmaster pass")
m.select("INBOX")
typ, data = m.search(None, "ALL")
out = []
for n in data[0].split():
    typ, parts = m.fetch(n, "(BODY.PEEK[])")
    out.append(parts[0][1].decode())
print(json.dumps(out))
`;

test("submission: the hourly limit answers 451 4.7.1; repeated refusals suspend the account and tell the postmaster", async () => {
  const full = await startFullServer({ protocols: ["submission", "imap"], extraToml: `[abuse]\nmessages_per_hour = 2\nsuspend_after_refusals = 2\n` });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: "alice pass" });
    await admin.addUser({ address: "bob@example.org", password: "bob pass" });
    await admin.addUser({ address: "postmaster@example.org", password: "postmaster pass" });
    const transport = () =>
      nodemailer.createTransport({ host: "127.0.0.1", port: full.portOf("submission"), secure: false, requireTLS: true, auth: { user: "alice@example.org", pass: "alice pass" }, tls: { rejectUnauthorized: false }, name: "laptop.example" });
    const send = (n: number) => transport().sendMail({ from: "alice@example.org", to: "bob@example.org", subject: `note ${n}`, text: "hello" });

    await send(1);
    await send(2);
    const refused = await send(3).then(
      () => null,
      (error: { responseCode?: number; response?: string }) => error,
    );
    assert.equal(refused?.responseCode, 451);
    assert.match(refused?.response ?? "", /^451 4\.7\.1 Hourly message limit \(2\) reached for this account, try again later/);

    const httpPort = full.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    assert.match(metrics, /mailroom_send_limit_refusals_total\{limit="messages_per_hour"\} 1/);

    // The second refusal reaches suspend_after_refusals: the account is disabled.
    await send(4).catch(() => {});
    let loginError: unknown = null;
    for (let i = 0; i < 50 && loginError === null; i++) {
      await sleep(100);
      loginError = await transport()
        .verify()
        .then(() => null, (error: unknown) => error);
    }
    assert.match(String((loginError as { response?: string })?.response), /^535 /, "a suspended account cannot log in");
    const notices = JSON.parse(await runPython(READ_POSTMASTER, [String(full.portOf("imap"))])) as string[];
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, /Subject: Account alice@example\.org suspended: outbound limits/);
    assert.match(notices[0]!, /mailroom user enable alice@example\.org/);
  } finally {
    await full.stop();
  }
});
