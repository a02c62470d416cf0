// Port 25's connection stage against abuse: the early-talker test (a client that sends before the
// greeting pause ends gets 554 5.5.1 and is disconnected, while python's smtplib, which waits for
// the 220, is served normally) and the per-address message rate (451 4.7.1 past the limit).
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import { startFullServer } from "../harness/full-server.js";
import { runPython } from "../harness/python.js";

const SEND = `
import smtplib, sys, json
out = []
for i in range(int(sys.argv[2])):
    s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="mail.sender.test")
    try:
        s.sendmail("news@sender.test", ["alice@example.org"], "From: news@sender.test\\r\\nSubject: n\\r\\nDate: Tue, 1 Dec 2026 10:00:00 +0000\\r\\nMessage-ID: <c%d@sender.test>\\r\\n\\r\\nhi\\r\\n" % i)
        out.append([250, ""])
    except smtplib.SMTPSenderRefused as e:
        out.append([e.smtp_code, e.smtp_error.decode()])
    s.quit()
print(json.dumps(out))
`;

test("early talkers get 554 5.5.1; patient clients are served; the per-address rate answers 451 4.7.1", async () => {
  const log = createMemoryLogger();
  const full = await startFullServer({ protocols: ["smtp"], log, extraToml: `[spam]\nexempt_networks = []\niprev = false\ngreet_pause = "1s"\nip_messages_per_hour = 2\n` });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: "alice pass" });
    const port = full.portOf("smtp");

    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write("EHLO impatient.test\r\n");
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    await once(socket, "close");
    assert.match(answer, /^554 5\.5\.1 Protocol error: talked before the greeting\r\n$/, "no 220 at all, only the refusal");
    assert.equal(log.records.filter((r) => r.event === "smtp.early_talker").length, 1);

    const replies = JSON.parse(await runPython(SEND, [String(port), "3"])) as [number, string][];
    assert.deepEqual(replies.slice(0, 2), [[250, ""], [250, ""]], "smtplib waits for the greeting and is served");
    assert.equal(replies[2]![0], 451);
    assert.match(replies[2]![1], /^4\.7\.1 Too many messages from your address, try again later/);
  } finally {
    await full.stop();
  }
});
