// A real `mailroom serve` process on the PostgreSQL backend (issue 15): the schema created by
// `mailroom store migrate`, accounts added by the CLI, mail received by SMTP (python3 smtplib),
// read by IMAP (imaplib) and deleted by POP3 (poplib); every byte and row is in the database and
// nothing in the data directory, and the database password (scram-sha-256, from password_file)
// appears in no output. Then the database goes away: clients get temporary failures (SMTP 4xx),
// and once it is back the same server process serves again by itself.
import assert from "node:assert/strict";
import { chmod, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { run } from "../harness/smtp-clients.js";

const skip = postgresUnavailable() ?? false;
const PASSWORD = "pg-secret-Zq81";

let cluster: PostgresCluster;
before(async () => {
  if (!skip) cluster = await startPostgres({ password: PASSWORD });
});
after(async () => {
  await cluster?.stop();
});

const CLIENTS = String.raw`
import imaplib, poplib, smtplib, sys, json
smtp_port, imap_port, pop3_port, phase = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = {}
if phase == "mail":
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as s:
        for n in (1, 2):
            s.sendmail("sender@elsewhere.example", ["alice@example.org"],
                       "From: sender@elsewhere.example\r\nTo: alice@example.org\r\nSubject: pg test %d\r\n\r\nbody number %d over postgres\r\n" % (n, n))
    imap = imaplib.IMAP4("127.0.0.1", imap_port, timeout=20)
    imap.login("alice@example.org", "a long password")
    typ, data = imap.select("INBOX")
    out["exists"] = int(data[0])
    typ, data = imap.uid("SEARCH", None, "BODY", "number 2")
    out["search"] = data[0].decode()
    typ, data = imap.uid("FETCH", "1", "(BODY.PEEK[] FLAGS)")
    out["body"] = data[0][1].decode()
    imap.logout()
    pop = poplib.POP3("127.0.0.1", pop3_port, timeout=20)
    pop.user("alice@example.org")
    pop.pass_("a long password")
    out["stat"] = list(pop.stat())
    pop.dele(1)
    pop.quit()
    imap = imaplib.IMAP4("127.0.0.1", imap_port, timeout=20)
    imap.login("alice@example.org", "a long password")
    typ, data = imap.select("INBOX")
    out["after_pop3"] = int(data[0])
    typ, data = imap.uid("SEARCH", None, "ALL")
    out["uids_after_pop3"] = data[0].decode()
    imap.logout()
elif phase == "down":
    try:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as s:
            s.sendmail("sender@elsewhere.example", ["alice@example.org"], "Subject: while down\r\n\r\nx\r\n")
        out["smtp"] = "accepted"
    except smtplib.SMTPRecipientsRefused as e:
        out["smtp"] = str(list(e.recipients.values())[0][0])
    except smtplib.SMTPResponseException as e:
        out["smtp"] = str(e.smtp_code)
elif phase == "again":
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as s:
        s.sendmail("sender@elsewhere.example", ["alice@example.org"], "Subject: after restart\r\n\r\nback\r\n")
    imap = imaplib.IMAP4("127.0.0.1", imap_port, timeout=20)
    imap.login("alice@example.org", "a long password")
    typ, data = imap.select("INBOX")
    out["exists"] = int(data[0])
    imap.logout()
print(json.dumps(out))
`;

test("mailroom serve on PostgreSQL: SMTP in, IMAP read, POP3 delete; all state in the database; survives a database restart", { skip, timeout: 180_000 }, async () => {
  const url = await cluster.createDatabase("e2e");
  const scratch = await makeScratch();
  const passwordFile = join(scratch.dir, "db-password");
  await writeFile(passwordFile, PASSWORD + "\n");
  // serve drops root to server.user, who must still read the password file.
  await chmod(passwordFile, 0o644);
  await writeFile(
    scratch.configFile,
    serveConfig({
      listeners: [{ protocol: "smtp" }, { protocol: "imap" }, { protocol: "pop3" }],
      plaintextAuthOnLoopback: true,
      extra: `[store]\nbackend = "postgresql"\nurl = "${url}"\npassword_file = "${passwordFile}"\n`,
    }),
  );
  const outputs: string[] = [];
  const cli = async (args: string[], input?: string) => {
    const result = await runMailroom(args, { env: scratch.env, ...(input !== undefined ? { input } : {}) });
    outputs.push(result.stdout, result.stderr);
    assert.equal(result.code, 0, `mailroom ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  try {
    assert.match(await cli(["store", "migrate"]), /migrated from version 0 to \d+/);
    assert.match(await cli(["store", "migrate"]), /nothing to do/, "a second run finds the schema current");
    await cli(["domain", "add", "example.org"]);
    await cli(["user", "add", "alice@example.org"], "a long password\n");

    const server = await startServeProcess(scratch.env);
    let restarted = false;
    try {
      const ports = ["smtp", "imap", "pop3"].map((p) => String(listenerPort(server.banner, p)));
      const mail = await run("python3", ["-c", CLIENTS, ...ports, "mail"], undefined, 60_000);
      assert.equal(mail.code, 0, mail.stderr);
      const seen = JSON.parse(mail.stdout) as { exists: number; search: string; body: string; stat: number[]; after_pop3: number; uids_after_pop3: string };
      assert.equal(seen.exists, 2);
      assert.equal(seen.search, "2", "SEARCH BODY answered from the trigram index");
      assert.match(seen.body, /^Return-Path: <sender@elsewhere\.example>\r\n/, "the trace prefix comes first");
      assert.match(seen.body, /Subject: pg test 1\r\n\r\nbody number 1 over postgres\r\n$/);
      assert.equal(seen.stat[0], 2);
      assert.equal(seen.after_pop3, 1, "POP3 DELE committed at QUIT");
      assert.equal(seen.uids_after_pop3, "2");

      // Everything is in PostgreSQL: one message row, its bytes once, and no SQLite store on disk.
      const [counts] = await cluster.query<{ messages: number; contents: number; chunks: number }>(
        "SELECT (SELECT count(*) FROM messages)::int AS messages, (SELECT count(*) FROM blob_contents)::int AS contents, (SELECT count(*) FROM blob_chunks)::int AS chunks",
        [],
        new URL(url).pathname.slice(1),
      );
      assert.deepEqual(counts, { messages: 1, contents: 1, chunks: 1 }, "the deleted message's bytes went with it");
      assert.ok(!(await readdir(scratch.dataDir)).some((f) => f.startsWith("mailroom.sqlite")), "no SQLite store in the data dir");

      // The database goes away: SMTP answers with a temporary failure, never a 5xx or a lost message.
      await cluster.stopServer("fast");
      restarted = true;
      const down = await run("python3", ["-c", CLIENTS, ...ports, "down"], undefined, 60_000);
      assert.equal(down.code, 0, down.stderr);
      assert.match((JSON.parse(down.stdout) as { smtp: string }).smtp, /^4\d\d$/, down.stdout);
      await cluster.startServer();
      restarted = false;
      // The same process reconnects by itself (its pool drops dead connections).
      const again = await run("python3", ["-c", CLIENTS, ...ports, "again"], undefined, 60_000);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((JSON.parse(again.stdout) as { exists: number }).exists, 2);
    } finally {
      if (restarted) await cluster.startServer();
      assert.equal(await server.stop(), 0);
      outputs.push(server.banner, server.logs());
    }
    for (const text of outputs) assert.ok(!text.includes(PASSWORD), "the database password is never printed or logged");
  } finally {
    await scratch.cleanup();
  }
});
