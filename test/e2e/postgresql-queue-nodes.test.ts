// The outbound queue shared by three real nodes on one PostgreSQL database (issue 15): messages
// submitted to all three (python smtplib, AUTH on submission) are delivered by whichever node
// claims them to one receiving server (test/harness/smtp-sink.ts, reached as outbound.smarthost).
// Node C never gets a reply after DATA from that server, and is killed with SIGKILL while it holds
// claimed messages: once its lease (outbound.lease) runs out, A and B deliver them. Every message
// arrives exactly once, counted by Message-ID, and the queue ends empty.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startClusterNodes } from "../harness/cluster-nodes.js";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { run } from "../harness/smtp-clients.js";
import { SmtpSink } from "../harness/smtp-sink.js";

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
port, label, first, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
acked = []
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.login("alice@example.org", "a long password")
    for n in range(first, first + count):
        mid = "<queue-%d@test.example>" % n
        s.sendmail("alice@example.org", ["rcpt%d@remote.example" % n],
                   "From: alice@example.org\r\nTo: rcpt%d@remote.example\r\nMessage-ID: %s\r\nSubject: queue %d via %s\r\n\r\nbody %d\r\n" % (n, mid, n, label, n))
        acked.append(mid)
print(json.dumps(acked))
`;

const PER_NODE = 20;

test("three nodes share the queue; one killed with messages claimed: every message delivered exactly once", { skip, timeout: 120_000 }, async () => {
  const sink = new SmtpSink();
  await sink.listen();
  // Node C's deliveries never get their 250: whatever C claims, C does not deliver.
  sink.holdFrom.add("node-c.example.org");
  const url = await cluster.createDatabase("queue");
  const nodes = await startClusterNodes({
    count: 3,
    url,
    listeners: [{ protocol: "submission" }],
    extra: [
      "[outbound]",
      `smarthost = "127.0.0.1:${sink.port}"`,
      'smarthost_tls = "none"',
      'connect_timeout = "1s"',
      // C waits this long for its 250 before giving up, so it is killed while still waiting.
      'command_timeout = "3s"',
      // Greater than 1 s + 4 × 3 s, as the config requires; what the dead node's messages wait.
      'lease = "14s"',
      'retry_schedule = ["1s"]',
      "workers = 3",
      "[abuse]",
      "messages_per_hour = 0",
      "recipients_per_day = 0",
      "domain_messages_per_hour = 0",
    ].join("\n"),
  });
  try {
    const [a, b, c] = nodes.nodes as [(typeof nodes.nodes)[0], (typeof nodes.nodes)[0], (typeof nodes.nodes)[0]];
    const submitted = await Promise.all(
      [a, b, c].map(async (node, i) => {
        const result = await run("python3", ["-c", SUBMIT, String(node.port("submission")), node.name, String(i * PER_NODE), String(PER_NODE)], undefined, 60_000);
        assert.equal(result.code, 0, result.stderr);
        return JSON.parse(result.stdout) as string[];
      }),
    );
    const all = submitted.flat();
    assert.equal(all.length, 3 * PER_NODE);

    // C holds claimed messages (its attempts wait for a reply that never comes): kill it now.
    const deadline = Date.now() + 20_000;
    while ((sink.held.get(c.hostname) ?? 0) === 0) {
      assert.ok(Date.now() < deadline, "node C claimed and attempted a message");
      await new Promise((r) => setTimeout(r, 50));
    }
    c.process.child.kill("SIGKILL");
    const killedAt = Date.now();
    const [claimed] = await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM queue WHERE lease_until > $1", [killedAt], new URL(url).pathname.slice(1));
    assert.ok((claimed?.n ?? 0) >= 1, "messages were claimed (leased) when C died");

    // A and B deliver everything, C's claimed messages once its lease has run out.
    while (sink.counts().size < all.length) {
      assert.ok(Date.now() - killedAt < 45_000, `all delivered within 45 s of the kill (${sink.counts().size} of ${all.length})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // A little longer: a duplicate would show up now.
    await new Promise((r) => setTimeout(r, 1500));
    const counts = sink.counts();
    const duplicates = [...counts].filter(([, n]) => n > 1);
    assert.deepEqual(duplicates, [], "no message delivered twice");
    assert.deepEqual([...counts.keys()].sort(), [...all].sort(), "every submitted message delivered, nothing else");
    assert.ok(sink.accepted.every((m) => m.helo !== c.hostname), "the killed node delivered nothing");
    const byNode = new Map<string, number>();
    for (const m of sink.accepted) byNode.set(m.helo, (byNode.get(m.helo) ?? 0) + 1);
    assert.ok((byNode.get(a.hostname) ?? 0) > 0 && (byNode.get(b.hostname) ?? 0) > 0, `both survivors delivered: ${JSON.stringify([...byNode])}`);
    // What C held went out through A or B, after C's lease.
    assert.ok(sink.heldIds.size >= 1);
    for (const id of sink.heldIds) assert.equal(counts.get(id), 1, `${id}, held by C, delivered once by another node`);
    const queued = async () => (await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM queue", [], new URL(url).pathname.slice(1)))[0]?.n ?? -1;
    for (let i = 0; i < 50 && (await queued()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await queued(), 0, "the queue ends empty");
  } finally {
    await nodes.cleanup();
    await sink.close();
  }
});
