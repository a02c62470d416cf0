// The account page's out-of-office beside the user's own Sieve script (delivery/sieve-filter.ts,
// ACCOUNT_RULES_SCRIPT): alice uploads and activates her script with Debian's sieve-connect
// (ManageSieve, RFC 5804), then turns on the out-of-office reply from /account. A message sent
// over SMTP with python's smtplib is filed by her script (seen over IMAP) and answered by the
// reply (caught by a remote MTA); her script stays the active one.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { createAdmin } from "../../src/server/compose.js";
import { makeCertificate } from "../harness/certificates.js";
import { remoteMta } from "../harness/capture-mta.js";
import { startFullServer } from "../harness/full-server.js";

const run = promisify(execFile);
const PASSWORD = "correct horse battery";

function sieveConnect(port: number, caFile: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      "sieve-connect",
      ["--server", "127.0.0.1", "--port", String(port), "--user", "alice@example.org", "--passwordfd", "3", "--tlscafile", caFile, "--tlshostname", "mx.example.org", "--noclearauth", ...args],
      { stdio: ["ignore", "pipe", "pipe", "pipe"] },
    );
    const passwordPipe = child.stdio[3] as NodeJS.WritableStream;
    passwordPipe.on("error", () => undefined);
    passwordPipe.end(`${PASSWORD}\n`);
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill(), 120_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const OWN_SCRIPT = `require ["fileinto", "mailbox"];
# alice's own filter, uploaded with sieve-connect
if header :contains "subject" "[team]" {
  fileinto :create "Team";
}
`;

test("out-of-office from /account and the user's own ManageSieve script both take effect; her script stays active", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-account-rules-"));
  const remote = await remoteMta();
  remote.accepting = true;
  const now = Date.now();
  const cert = await makeCertificate(dir, "server", { hostname: "mx.example.org", notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 30 * 86_400_000) });
  const full = await startFullServer({
    protocols: ["smtp", "imap", "managesieve"],
    extraToml: `[tls]\ncert_file = ${JSON.stringify(cert.certFile)}\nkey_file = ${JSON.stringify(cert.keyFile)}\n[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\n[outbound]\nroutes = { "remote.test" = "127.0.0.1:${remote.port}" }\nmta_sts = false\n`,
  });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: PASSWORD });

    const port = full.portOf("managesieve");
    await writeFile(join(dir, "own.sieve"), OWN_SCRIPT);
    const upload = await sieveConnect(port, cert.certFile, ["--localsieve", join(dir, "own.sieve"), "--remotesieve", "mine", "--upload"]);
    assert.equal(upload.code, 0, upload.output);
    const activate = await sieveConnect(port, cert.certFile, ["--remotesieve", "mine", "--activate"]);
    assert.equal(activate.code, 0, activate.output);

    // The account page: sign in, see that her filter runs too, turn the out-of-office on.
    const base = `http://127.0.0.1:${full.server.http!.bound.find((b) => b.scheme === "http")!.port}`;
    const login = await fetch(`${base}/account/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ address: "alice@example.org", password: PASSWORD }) });
    assert.equal(login.status, 200);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const csrf = ((await login.json()) as { csrfToken: string }).csrfToken;
    const saved = await fetch(`${base}/account/api/filters`, {
      method: "PUT",
      headers: { cookie, "x-csrf-token": csrf, "content-type": "application/json" },
      body: JSON.stringify({ forwardTo: null, vacation: { enabled: true, subject: "Away", body: "Back on Monday.", days: 1 } }),
    });
    assert.equal(saved.status, 200, await saved.text());
    const me = (await (await fetch(`${base}/account/api/me`, { headers: { cookie } })).json()) as { filters: { otherActiveScript: string | null; vacation: { enabled: boolean } } };
    assert.equal(me.filters.vacation.enabled, true);
    assert.equal(me.filters.otherActiveScript, "mine", "the page names the script that runs after its rules");
    const page = await (await fetch(`${base}/account`, { headers: { cookie } })).text();
    assert.match(page, /“mine” runs too/);

    const list = await sieveConnect(port, cert.certFile, ["--list"]);
    assert.equal(list.code, 0, list.output);
    assert.match(list.output, /"mine" ACTIVE/, "saving the page activated nothing else");

    const boxes = JSON.parse(
      (
        await run("python3", ["-c", `
import imaplib, json, smtplib, ssl, sys
with smtplib.SMTP("127.0.0.1", ${full.portOf("smtp")}, local_hostname="remote.test") as s:
    s.sendmail("carol@remote.test", ["alice@example.org"], "From: carol@remote.test\\r\\nTo: alice@example.org\\r\\nSubject: [team] standup notes\\r\\nMessage-ID: <t1@remote.test>\\r\\n\\r\\nhello\\r\\n")
    s.sendmail("dave@remote.test", ["alice@example.org"], "From: dave@remote.test\\r\\nTo: alice@example.org\\r\\nSubject: lunch\\r\\nMessage-ID: <t2@remote.test>\\r\\n\\r\\nhello\\r\\n")
m = imaplib.IMAP4("127.0.0.1", ${full.portOf("imap")})
m.starttls(ssl_context=ssl._create_unverified_context())
m.login("alice@example.org", "${PASSWORD}")
out = {}
for box in ["INBOX", "Team"]:
    typ, data = m.select(box, readonly=True)
    out[box] = None if typ != "OK" else int(data[0])
print(json.dumps(out))
`], { timeout: 120_000 })
      ).stdout,
    ) as Record<string, number | null>;
    assert.deepEqual(boxes, { INBOX: 1, Team: 1 }, "her script filed the [team] message; the other one was kept");

    const end = Date.now() + 120_000;
    while (remote.messages.length < 2) {
      if (Date.now() > end) throw new Error(`the out-of-office replies never reached the remote MTA (${remote.messages.length})`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const replies = remote.messages.join("\n---\n");
    assert.match(replies, /^To: <?carol@remote\.test>?/im);
    assert.match(replies, /^To: <?dave@remote\.test>?/im);
    assert.match(replies, /^Subject: Away/m);
    assert.match(replies, /Back on Monday\./);
    assert.match(replies, /^Auto-Submitted: auto-replied/m);
  } finally {
    await full.stop();
    await remote.close();
    await rm(dir, { recursive: true, force: true });
  }
});
