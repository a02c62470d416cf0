// TLS-RPT intake (RFC 8460) end to end: Python's email package builds reports the way reporters
// send them (multipart/report; report-type=tlsrpt, the JSON gzipped in an application/tlsrpt+gzip
// part, §5.3) and smtplib delivers them on port 25 to postmaster@example.org. The report lands in the
// postmaster's INBOX as mail, and is read: `mailroom tls-reports` (the binary, talking to the
// running server) sums it per domain and lists its failures, /metrics counts it; the same report
// again is stored once; a broken one is counted as invalid and still delivered. Then the same
// reports POSTed over HTTPS with curl (§5.2), and the bad input an open endpoint gets.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
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

/** curl over HTTPS to the mail host name (SNI mx.example.org), the test server's self-signed certificate accepted. */
async function post(https: number, body: Buffer | string, type: string, extra: string[] = []): Promise<{ status: number; text: string }> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-tlsrpt-"));
  try {
    await writeFile(join(dir, "body"), body);
    const result = await run("curl", ["-sS", "-k", "--max-time", "20", "--resolve", `mx.example.org:${https}:127.0.0.1`, "-o", join(dir, "answer"), "-w", "%{http_code}", "-H", `Content-Type: ${type}`, ...extra, "--data-binary", `@${join(dir, "body")}`, `https://mx.example.org:${https}/tlsrpt/v1`]);
    return { status: Number(result.stdout), text: await readFile(join(dir, "answer"), "utf8").catch(() => "") };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("TLS-RPT reports POSTed over HTTPS (RFC 8460 §5.2): stored once and summed; bad JSON, a gzip bomb, too large, the wrong type, plain HTTP, others' domains, a flood refused with 4xx", async () => {
  const log = createMemoryLogger();
  const full = await startFullServer({ protocols: ["smtp"], log, extraToml: '[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\ntls_report_max_size = "64K"\ntls_reports_per_hour = 9\n' });
  try {
    await full.server.store.accounts.addDomain("example.org");
    const https = full.server.http!.bound.find((b) => b.scheme === "https")!.port;
    const http = full.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const report = { ...REPORT, "report-id": "https-1" };

    const stored = await post(https, gzipSync(JSON.stringify(report)), "application/tlsrpt+gzip");
    assert.deepEqual(stored, { status: 201, text: "report stored\n" });
    assert.equal((await post(https, gzipSync(JSON.stringify(report)), "application/tlsrpt+gzip")).status, 200, "a retried report is acknowledged, not stored again");
    assert.equal((await post(https, JSON.stringify({ ...report, "report-id": "https-2" }), "application/tlsrpt+json; charset=utf-8")).status, 201, "the uncompressed form");
    const reports = await full.server.store.tlsReports!.listTlsReports(new Date(Date.now() - 7 * 86_400_000), 10);
    assert.deepEqual(reports.map((r) => r.reportId).sort(), ["https-1", "https-2"]);
    assert.deepEqual(reports[0]!.policies[0]!.failures, [{ resultType: "certificate-expired", sendingMtaIp: "198.51.100.7", receivingMxHostname: "mx.example.org", failedSessionCount: 3 }]);

    // Bad input: each a clear 4xx, nothing stored, the server keeps serving.
    const badJson = await post(https, "{not json", "application/tlsrpt+json");
    assert.equal(badJson.status, 400);
    assert.match(badJson.text, /not JSON/);
    const badSchema = await post(https, JSON.stringify({ ...report, "report-id": "x", policies: "none" }), "application/tlsrpt+json");
    assert.equal(badSchema.status, 400);
    assert.match(badSchema.text, /policies: expected an array/);
    assert.equal((await post(https, gzipSync(JSON.stringify(report)).subarray(0, 40), "application/tlsrpt+gzip")).status, 400, "truncated gzip");
    // 20 MB of JSON-looking text gzips to about 20 KB, under the body limit; decompression stops at 64 KB.
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"organization-name":"'), Buffer.alloc(20 * 1024 * 1024, 0x61), Buffer.from('"}')]), { level: 9 });
    assert.ok(bomb.length < 64 * 1024, `bomb is ${bomb.length} bytes`);
    const bombed = await post(https, bomb, "application/tlsrpt+gzip");
    assert.equal(bombed.status, 413);
    assert.match(bombed.text, /larger than 65536 bytes decompressed/);
    assert.equal((await post(https, randomBytes(100 * 1024), "application/tlsrpt+gzip")).status, 413, "a body over http.tls_report_max_size");
    const wrongType = await post(https, JSON.stringify(report), "application/json");
    assert.equal(wrongType.status, 415);
    assert.match(wrongType.text, /application\/tlsrpt\+gzip or application\/tlsrpt\+json/);
    assert.equal((await post(https, gzipSync(JSON.stringify(report)), "application/tlsrpt+json", ["-H", "Content-Encoding: gzip"])).status, 415);
    const notOurs = await post(https, JSON.stringify({ ...report, "report-id": "other", policies: [{ ...REPORT.policies[0]!, policy: { ...REPORT.policies[0]!.policy, "policy-domain": "elsewhere.example" } }] }), "application/tlsrpt+json");
    assert.equal(notOurs.status, 422);
    assert.match(notOurs.text, /elsewhere\.example/);
    const plain = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/tlsrpt+json", "--data-binary", JSON.stringify(report), `http://127.0.0.1:${http}/tlsrpt/v1`]);
    assert.equal(plain.stdout, "403", "plain HTTP is refused (RFC 8460 §3: https)");
    // Nine POSTs of an acceptable type so far from 127.0.0.1 (http.tls_reports_per_hour = 9): the tenth waits.
    const limited = await post(https, JSON.stringify({ ...report, "report-id": "https-3" }), "application/tlsrpt+json");
    assert.equal(limited.status, 429);
    assert.match(limited.text, /more than 9 reports from this address/);
    assert.equal((await full.server.store.tlsReports!.listTlsReports(new Date(0), 10)).length, 2, "nothing else was stored");
    assert.equal(log.records.filter((r) => r.event === "tlsrpt.invalid").length, 5, "each refused report read is logged");

    // The operator's view: the reports in `mailroom tls-reports`; `mailroom dns` names both rua.
    const env = { ...process.env, MAILROOM_DATA_DIR: full.dataDir };
    const listed = await runMailroom(["tls-reports", "--days", "7"], { env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^TLS reports in the last 7 day\(s\): 2$/m);
    assert.match(listed.stdout, /^example\.org: 240 successful, 6 failed sessions/m);
    const zone = await runMailroom(["dns", "example.org"], { env });
    assert.equal(zone.code, 0, zone.stderr);
    assert.match(zone.stdout, /^_smtp\._tls\.example\.org\.\s+3600 IN TXT\s+"v=TLSRPTv1; rua=mailto:postmaster@example\.org,https:\/\/mx\.example\.org\/tlsrpt\/v1"$/m);
    const metrics = await run("curl", ["-sS", `http://127.0.0.1:${http}/metrics`]);
    assert.match(metrics.stdout, /^mailroom_tlsrpt_reports_total\{result="stored"\} 2$/m);
    assert.match(metrics.stdout, /^mailroom_tlsrpt_reports_total\{result="invalid"\} 5$/m);
  } finally {
    await full.stop();
  }
});
