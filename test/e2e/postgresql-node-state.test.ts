// Per-account state that holds across nodes on one PostgreSQL database (issue 15), with two real
// `mailroom serve` processes and python's smtplib/poplib as clients:
//   - DKIM keys live in the database: `domain add` writes no key files, both nodes print the same
//     records (`mailroom dns`), a message submitted on B leaves signed with the selector made
//     through A (verified with mailauth against the published key), and a rotation made on B
//     signs on A without a restart;
//   - abuse.messages_per_hour is one count for the account over both nodes (451 4.7.1 on either);
//   - POP3 LOGIN-DELAY (RFC 2449 §6.5): a login on A makes B answer -ERR [LOGIN-DELAY];
//   - sieve.max_redirects_per_day: four messages to a redirecting account, delivered through both
//     nodes, make exactly two redirects; the other two are kept.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startClusterNodes, type ClusterNode } from "../harness/cluster-nodes.js";
import { runMailroom } from "../harness/mailroom-process.js";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { run } from "../harness/smtp-clients.js";
import { SmtpSink } from "../harness/smtp-sink.js";

const { dkimVerify } = createRequire(import.meta.url)("mailauth/lib/dkim/verify.js") as {
  dkimVerify(input: Buffer, options: { resolver: (name: string, type: string) => Promise<string[][]> }): Promise<{ results: { status: { result: string }; signingDomain: string; selector: string }[] }>;
};

const skip = postgresUnavailable() ?? false;
let cluster: PostgresCluster;
before(async () => {
  if (!skip) cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

const SUBMIT = String.raw`
import smtplib, sys, json
port, count, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out = []
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.login("alice@example.org", "a long password")
    for n in range(count):
        mid = "<%s-%d@test.example>" % (tag, n)
        try:
            s.sendmail("alice@example.org", ["far@remote.example"], "From: alice@example.org\r\nTo: far@remote.example\r\nMessage-ID: %s\r\nSubject: %s %d\r\n\r\nbody\r\n" % (mid, tag, n))
            out.append("250")
        except smtplib.SMTPDataError as e:
            out.append("%d %s" % (e.smtp_code, e.smtp_error.decode()))
print(json.dumps(out))
`;

const DELIVER = String.raw`
import smtplib, sys, json
port, tag = int(sys.argv[1]), sys.argv[2]
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.sendmail("someone@elsewhere.example", ["bob@example.org"], "From: someone@elsewhere.example\r\nTo: bob@example.org\r\nMessage-ID: <%s@elsewhere.example>\r\nSubject: %s\r\n\r\nhello\r\n" % (tag, tag))
print(json.dumps("250"))
`;

const POP3 = String.raw`
import poplib, sys, json
port = int(sys.argv[1])
pop = poplib.POP3("127.0.0.1", port, timeout=20)
pop.user("bob@example.org")
try:
    pop.pass_("bob's long password")
    out = "ok %d" % pop.stat()[0]
    pop.quit()
except poplib.error_proto as e:
    out = e.args[0].decode()
print(json.dumps(out))
`;

async function python(script: string, args: (string | number)[]): Promise<unknown> {
  const result = await run("python3", ["-c", script, ...args.map(String)], undefined, 60_000);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

async function eventually(what: string, probe: () => boolean | Promise<boolean>, budgetMs = 30_000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  while (!(await probe())) {
    assert.ok(Date.now() < deadline, `${what} within ${budgetMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `mailroom dns example.org` on a node: the DKIM TXT records by selector. */
async function dkimRecords(node: ClusterNode): Promise<Map<string, string>> {
  const result = await runMailroom(["dns", "example.org"], { env: node.env, timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  const records = new Map<string, string>();
  for (const match of result.stdout.matchAll(/^(\S+)\._domainkey\.example\.org\.?\s.*?TXT\s+(.*)$/gm)) {
    // A long (RSA) value is printed as ( "..." "..." ): the strings joined are the record.
    records.set(match[1]!, [...match[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!).join(""));
  }
  return records;
}

test("two nodes on one database: DKIM keys, send limits, LOGIN-DELAY and Sieve redirects are shared", { skip, timeout: 360_000 }, async () => {
  const sink = new SmtpSink();
  await sink.listen();
  const url = await cluster.createDatabase("nodestate");
  const nodes = await startClusterNodes({
    count: 2,
    url,
    listeners: [{ protocol: "smtp" }, { protocol: "submission" }, { protocol: "pop3" }],
    users: [
      { address: "alice@example.org", password: "a long password" },
      { address: "bob@example.org", password: "bob's long password" },
      { address: "carol@example.org", password: "a long password" },
    ],
    extra: [
      "[outbound]",
      `smarthost = "127.0.0.1:${sink.port}"`,
      'smarthost_tls = "none"',
      'retry_schedule = ["1s"]',
      "[abuse]",
      "messages_per_hour = 3",
      "recipients_per_day = 0",
      "domain_messages_per_hour = 0",
      "[sieve]",
      "max_redirects_per_day = 2",
    ].join("\n"),
  });
  try {
    const [a, b] = nodes.nodes as [ClusterNode, ClusterNode];

    // DKIM: `domain add` (run through A's config) stored the keys in the database only.
    for (const node of nodes.nodes) assert.ok(!(await readdir(join(node.env.MAILROOM_DATA_DIR!))).includes("dkim"), `${node.name} keeps no key files`);
    const onA = await dkimRecords(a);
    const onB = await dkimRecords(b);
    assert.deepEqual([...onA.keys()].sort(), ["mailroom-ed25519", "mailroom-rsa"]);
    assert.deepEqual(onB, onA, "both nodes publish the same keys");
    const resolver = (records: Map<string, string>) => async (name: string, type: string) => {
      const selector = name.replace(/\._domainkey\.example\.org\.?$/, "");
      const txt = type === "TXT" ? records.get(selector) : undefined;
      if (txt === undefined) throw Object.assign(new Error(`no ${type} for ${name}`), { code: "ENOTFOUND" });
      return [[txt]];
    };

    // Send limits: 2 messages on A and 1 on B use the hour up; the next is refused on both nodes.
    assert.deepEqual(await python(SUBMIT, [a.port("submission"), 2, "on-a"]), ["250", "250"]);
    assert.deepEqual(await python(SUBMIT, [b.port("submission"), 1, "on-b"]), ["250"]);
    for (const node of [b, a]) {
      const [refused] = (await python(SUBMIT, [node.port("submission"), 1, `over-${node.name}`])) as string[];
      assert.match(refused!, /^451 4\.7\.1 Hourly message limit \(3\)/, `refused on ${node.name}`);
    }

    // The message submitted on B left signed with the keys made through A.
    await eventually("the three accepted messages at the receiver", () => sink.accepted.length >= 3);
    const fromB = sink.accepted.find((m) => m.messageId === "<on-b-0@test.example>");
    assert.ok(fromB, "B's message arrived");
    const verified = await dkimVerify(fromB.data, { resolver: resolver(onA) });
    assert.deepEqual(verified.results.map((r) => `${r.selector}:${r.status.result}`).sort(), ["mailroom-ed25519:pass", "mailroom-rsa:pass"]);

    // A rotation made on B (through B's control socket) signs on A too, without a restart.
    const rotated = await runMailroom(["dkim", "rotate", "example.org"], { env: b.env, timeoutMs: 60_000 });
    assert.equal(rotated.code, 0, rotated.stderr);
    const after = await dkimRecords(a);
    const fresh = [...after.keys()].filter((s) => !onA.has(s));
    assert.equal(fresh.length, 2, `new selectors published on A: ${[...after.keys()].join(", ")}`);
    // Carol (her own hourly count) submits on A once A's cached keys have expired (10 s): the new selectors sign.
    await new Promise((r) => setTimeout(r, 11_000));
    assert.deepEqual(await python(SUBMIT.replace(/alice@example\.org/g, "carol@example.org"), [a.port("submission"), 1, "rotated-on-a"]), ["250"]);
    await eventually("carol's message at the receiver", () => sink.accepted.some((m) => m.messageId === "<rotated-on-a-0@test.example>"));
    const rotatedMail = sink.accepted.find((m) => m.messageId === "<rotated-on-a-0@test.example>")!;
    const reverified = await dkimVerify(rotatedMail.data, { resolver: resolver(after) });
    assert.deepEqual(reverified.results.map((r) => `${r.selector}:${r.status.result}`).sort(), [...fresh].sort().map((s) => `${s}:pass`));

    // LOGIN-DELAY across nodes.
    const policy = await runMailroom(["user", "pop3", "bob@example.org", "--login-delay", "600"], { env: a.env, timeoutMs: 60_000 });
    assert.equal(policy.code, 0, policy.stderr);
    assert.match(String(await python(POP3, [a.port("pop3")])), /^ok /);
    assert.match(String(await python(POP3, [b.port("pop3")])), /^-ERR \[LOGIN-DELAY\] login again in \d+ seconds/);
    assert.match(String(await python(POP3, [a.port("pop3")])), /^-ERR \[LOGIN-DELAY\]/, "and on the node that recorded it");

    // Sieve: bob redirects everything; four messages through both nodes make two redirects a day.
    await writeFile(join(nodes.dir, "redirect.sieve"), 'require ["copy"];\nredirect :copy "bob-elsewhere@remote.example";\n');
    const put = await runMailroom(["sieve", "put", "bob@example.org", "redirect", join(nodes.dir, "redirect.sieve"), "--activate"], { env: a.env, timeoutMs: 60_000 });
    assert.equal(put.code, 0, put.stderr);
    const before = sink.accepted.length;
    for (const [i, node] of [a, b, a, b].entries()) assert.equal(await python(DELIVER, [node.port("smtp"), `to-bob-${i}`]), "250");
    await eventually("two redirects at the receiver", () => sink.accepted.length >= before + 2);
    // Give a wrongly allowed third redirect time to arrive (retry_schedule is 1 s).
    await new Promise((r) => setTimeout(r, 4000));
    const redirected = sink.accepted.slice(before);
    assert.equal(redirected.length, 2, `exactly two redirects: ${redirected.map((m) => m.messageId).join(", ")}`);
  } finally {
    await nodes.cleanup();
    await sink.close();
  }
});
