// rspamd as the external scanner, for real: Debian's rspamd and redis started by the test
// (test/harness/rspamd.ts), its DNS on the test's loopback server. Over port 25 with python's
// smtplib: the GTUBE test message is refused 550 5.7.1 on rspamd's reject, an ordinary message is
// delivered with rspamd's score as the RSPAMD test in X-Spam-Status; with rspamd stopped, mail is
// accepted unscanned by default (fail open) and refused 451 4.7.1 with rspamd_failure = "tempfail".
import assert from "node:assert/strict";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import type { Uid } from "../../src/store/index.js";
import { startDnsServer } from "../harness/dns-server.js";
import { startFullServer } from "../harness/full-server.js";
import { rspamdAvailable, startRspamd } from "../harness/rspamd.js";
import { runPython } from "../harness/python.js";

const SEND = `
import smtplib, sys, json
out = []
for body in sys.argv[2:]:
    s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="mail.sender.test")
    try:
        s.sendmail("news@sender.test", ["alice@example.org"], body.replace("\\n", "\\r\\n"))
        out.append([250, ""])
    except smtplib.SMTPDataError as e:
        out.append([e.smtp_code, e.smtp_error.decode()])
    s.quit()
print(json.dumps(out))
`;

const GTUBE = "From: news@sender.test\nTo: alice@example.org\nSubject: test\nDate: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <gtube@sender.test>\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n";
const PLAIN = "From: News <news@sender.test>\nTo: alice@example.org\nSubject: Monthly newsletter\nDate: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <n1@sender.test>\n\nHello Alice, here is the news.\n";

async function server(dnsPort: number, rspamdUrl: string, extra = "") {
  const log = createMemoryLogger();
  const full = await startFullServer({ protocols: ["smtp"], log, extraToml: `[outbound]\ndns_servers = ["127.0.0.1:${dnsPort}"]\n[spam]\nexempt_networks = []\niprev = false\nrspamd_url = "${rspamdUrl}"\n${extra}` });
  const admin = createAdmin(full.server.config, full.server.store);
  await admin.addDomain("example.org");
  await admin.addUser({ address: "alice@example.org", password: "alice pass" });
  return { full, log };
}

test("rspamd: GTUBE refused on its reject, its score in X-Spam-Status, fail open or tempfail when it is down", { skip: rspamdAvailable() ? false : "rspamd or redis-server is not installed (.ci/run installs them)" }, async () => {
  const dns = await startDnsServer({});
  const rspamd = await startRspamd({ dnsServer: dns.address });
  let rspamdRunning = true;
  const { full, log } = await server(dns.port, rspamd.url);
  try {
    const port = String(full.portOf("smtp"));
    const replies = JSON.parse(await runPython(SEND, [port, GTUBE, PLAIN])) as [number, string][];
    assert.equal(replies[0]![0], 550, JSON.stringify(replies));
    assert.match(replies[0]![1], /^5\.7\.1 Message rejected as spam/);
    assert.equal(replies[1]![0], 250);
    const verdicts = log.records.filter((r) => r.event === "spam.verdict");
    assert.match(String(verdicts[0]!["tests"]), /RSPAMD=[\d.]+\(reject/);
    assert.match(String(verdicts[1]!["tests"]), /RSPAMD=-?[\d.]+\((no action|add header|greylist|soft reject)/);
    const account = (await full.server.store.accounts.findAccountByAddress("alice@example.org"))!;
    const inbox = (await full.server.store.mail.getMailbox(account.id, "INBOX"))!;
    const [stored] = await full.server.store.mail.getMessages(inbox.id, [1 as Uid]);
    const text = (await new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      const stream = full.server.store.mail.openMessage(stored!);
      stream.on("data", (c: Buffer) => parts.push(c)).on("end", () => resolve(Buffer.concat(parts))).on("error", reject);
    })).toString("utf8").replace(/\r\n[\t ]+/g, " ");
    assert.match(text, /X-Spam-Status: \w+, score=-?[\d.]+ required=6\.0 tests=.*RSPAMD=/);

    await rspamd.stop();
    rspamdRunning = false;
    const open = JSON.parse(await runPython(SEND, [port, PLAIN])) as [number, string][];
    assert.equal(open[0]![0], 250, "fail open: accepted without rspamd");
    assert.ok(log.records.some((r) => r.event === "spam.dns_list_unavailable" && /rspamd/.test(String(r["reason"]))));

    const closed = await server(dns.port, rspamd.url, `rspamd_failure = "tempfail"\n`);
    try {
      const refused = JSON.parse(await runPython(SEND, [String(closed.full.portOf("smtp")), PLAIN])) as [number, string][];
      assert.equal(refused[0]![0], 451);
      assert.match(refused[0]![1], /^4\.7\.1 Content scanner unavailable/);
    } finally {
      await closed.full.stop();
    }
  } finally {
    await full.stop();
    if (rspamdRunning) await rspamd.stop();
    await dns.close();
  }
});
