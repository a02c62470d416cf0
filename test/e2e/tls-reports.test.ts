// TLS-RPT intake (RFC 8460) end to end: Python's email package builds reports the way reporters
// send them (multipart/report; report-type=tlsrpt, the JSON gzipped in an application/tlsrpt+gzip
// part, §5.3) and smtplib delivers them on port 25 to postmaster@example.org. The report lands in the
// postmaster's INBOX as mail, and is read: `mailroom tls-reports` (the binary, talking to the
// running server) sums it per domain and lists its failures, /metrics counts it; the same report
// again is stored once; a broken one is counted as invalid and still delivered.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import { startFullServer } from "../harness/full-server.js";
import { runMailroom } from "../harness/mailroom-process.js";
import { run } from "../harness/smtp-clients.js";

const SEND_REPORT = `
import email.policy, gzip, json, smtplib, sys
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
port, body, gzipped = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3] == "gzip"
msg = MIMEMultipart("report", report_type="tlsrpt")
msg["From"] = "tlsrpt@reporter.example"
msg["To"] = "postmaster@example.org"
msg["Subject"] = "Report Domain: example.org Submitter: reporter.example Report-ID: <r1@reporter.example>"
msg["TLS-Report-Domain"] = "example.org"
msg["TLS-Report-Submitter"] = "reporter.example"
msg.attach(MIMEText("This is an aggregate TLS report from reporter.example"))
part = MIMEApplication(gzip.compress(body) if gzipped else body, "tlsrpt+gzip" if gzipped else "tlsrpt+json")
part.add_header("Content-Disposition", "attachment", filename="reporter.example!example.org!1764633600!1764719999.json.gz")
msg.attach(part)
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
s.sendmail("tlsrpt@reporter.example", ["postmaster@example.org"], msg.as_bytes(policy=email.policy.SMTP))
s.quit()
print("sent")
`;

const REPORT = {
  "organization-name": "Reporter Inc.",
  "date-range": { "start-datetime": new Date(Date.now() - 86_400_000).toISOString().replace(/\.\d+Z$/, "Z"), "end-datetime": new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, "Z") },
  "contact-info": "tlsrpt@reporter.example",
  "report-id": "2026-12-02T00:00:00Z_example.org",
  policies: [
    {
      policy: { "policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing", "mx: mx.example.org", "max_age: 604800"], "policy-domain": "example.org", "mx-host": ["mx.example.org"] },
      summary: { "total-successful-session-count": 120, "total-failure-session-count": 3 },
      "failure-details": [{ "result-type": "certificate-expired", "sending-mta-ip": "198.51.100.7", "receiving-mx-hostname": "mx.example.org", "failed-session-count": 3 }],
    },
  ],
};

async function send(port: number, body: string, gzipped: boolean): Promise<void> {
  const result = await run("python3", ["-c", SEND_REPORT, String(port), body, gzipped ? "gzip" : "json"]);
  assert.equal(result.code, 0, result.stderr);
}

test("TLS-RPT reports sent by smtplib are delivered, read once, summed by mailroom tls-reports and counted in /metrics", async () => {
  const log = createMemoryLogger();
  const full = await startFullServer({ protocols: ["smtp"], log });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "postmaster@example.org", password: "correct horse battery" });
    const smtp = full.portOf("smtp");
    await send(smtp, JSON.stringify(REPORT), true);
    await send(smtp, JSON.stringify(REPORT), true);
    await send(smtp, JSON.stringify({ ...REPORT, "report-id": "broken", policies: "none" }), false);

    const postmaster = (await full.server.store.accounts.findAccountByAddress("postmaster@example.org"))!;
    const inbox = (await full.server.store.mail.getMailbox(postmaster.id, "INBOX"))!;
    assert.equal((await full.server.store.mail.listMessages(inbox.id)).length, 3, "every report is also delivered as mail");
    assert.deepEqual(log.records.filter((r) => r.event === "tlsrpt.report").map((r) => r["outcome"]), ["stored", "duplicate"]);
    assert.match(String(log.records.find((r) => r.event === "tlsrpt.invalid")?.["reason"]), /policies: expected an array/);
    assert.ok(log.records.some((r) => r.event === "tlsrpt.failures"), "failures are logged as a warning");

    // The binary, against the running server (its control socket in the data dir).
    const listed = await runMailroom(["tls-reports", "--days", "7"], { env: { ...process.env, MAILROOM_DATA_DIR: full.dataDir } });
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "TLS reports in the last 7 day(s): 1");
    assert.equal(lines[1], "example.org: 120 successful, 3 failed sessions (2.4% failed) in 1 report(s)");
    assert.match(listed.stdout, /Reporter Inc\.\s+report 2026-12-02T00:00:00Z_example\.org/);
    assert.match(listed.stdout, /^ {4}example\.org \(sts\): 120 successful, 3 failed$/m);
    assert.match(listed.stdout, /^ {8}certificate-expired x3 \(mx\.example\.org from 198\.51\.100\.7\)$/m);

    const http = full.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const metrics = await run("curl", ["-sS", `http://127.0.0.1:${http}/metrics`]);
    assert.match(metrics.stdout, /^mailroom_tlsrpt_reports_total\{result="stored"\} 1$/m);
    assert.match(metrics.stdout, /^mailroom_tlsrpt_reports_total\{result="duplicate"\} 1$/m);
    assert.match(metrics.stdout, /^mailroom_tlsrpt_reports_total\{result="invalid"\} 1$/m);
    assert.match(metrics.stdout, /^mailroom_tlsrpt_sessions_total\{domain="example.org",result="failed"\} 3$/m);
    assert.match(metrics.stdout, /^mailroom_tlsrpt_sessions_total\{domain="example.org",result="successful"\} 120$/m);
  } finally {
    await full.stop();
  }
});
