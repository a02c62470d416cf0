import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openTempStore } from "../../../test/harness/temp-store.js";
import { AdminError, createAdminOperations } from "./index.js";
import { txtStrings } from "./dns-records.js";
import { defaultListeners } from "../../config/index.js";

async function setup() {
  const temp = await openTempStore("mailroom-admin-outbound-");
  const ops = createAdminOperations({
    accounts: temp.store,
    hashPassword: async (p) => `hash:${p}`,
    outbound: { queue: temp.store, dkim: { keyDir: join(temp.dataDir, "dkim"), selector: "mailroom" }, hostname: "mx.example.org", listeners: defaultListeners(), clock: () => new Date("2031-05-06T00:00:00Z") },
  });
  return { temp, ops };
}

async function enqueue(temp: Awaited<ReturnType<typeof openTempStore>>) {
  const staged = await temp.store.stageMessage(Buffer.from("Subject: q\r\n\r\nbody\r\n"));
  return temp.store.enqueue({ message: staged, mailFrom: "a@example.org", submittedBy: "a@example.org", recipients: [{ address: "x@remote.test", notify: null, originalRecipient: null }], envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false });
}

test("domain add makes DKIM keys; dns prints MX, SPF, both DKIM keys, DMARC, MTA-STS, TLS-RPT and SRV records", async () => {
  const { temp, ops } = await setup();
  try {
    const added = await ops.addDomain("Example.org");
    assert.deepEqual(added.dkimSelectors, ["mailroom-ed25519", "mailroom-rsa"]);
    const zone = await ops.outbound.dnsRecords("example.org");
    assert.match(zone, /^example\.org\.\s+3600 IN MX\s+10 mx\.example\.org\.$/m);
    assert.match(zone, /^example\.org\.\s+3600 IN TXT\s+"v=spf1 mx -all"$/m);
    assert.match(zone, /^mailroom-ed25519\._domainkey\.example\.org\.\s+3600 IN TXT\s+"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]+"$/m);
    assert.match(zone, /^mailroom-rsa\._domainkey\.example\.org\.\s+3600 IN TXT\s+\( "v=DKIM1; k=rsa; p=[^"]{200,}" "[^"]+" \)$/m, "a 2048-bit key is split into 255-octet strings");
    assert.match(zone, /^_dmarc\.example\.org\.\s+3600 IN TXT\s+"v=DMARC1; p=none; rua=mailto:postmaster@example\.org"$/m);
    assert.match(zone, /^_mta-sts\.example\.org\.\s+3600 IN TXT\s+"v=STSv1; id=[0-9a-f]{20}"$/m);
    assert.match(zone, /^_smtp\._tls\.example\.org\.\s+3600 IN TXT\s+"v=TLSRPTv1; rua=mailto:postmaster@example\.org"$/m);
    assert.match(zone, /^_submissions\._tcp\.example\.org\.\s+3600 IN SRV\s+0 1 465 mx\.example\.org\.$/m);
    assert.match(zone, /^_imaps\._tcp\.example\.org\.\s+3600 IN SRV\s+0 1 993 mx\.example\.org\.$/m);
    const rotated = await ops.outbound.rotateDkim("example.org");
    assert.deepEqual(rotated, ["mailroom-20310506-ed25519", "mailroom-20310506-rsa"]);
    assert.match(await ops.outbound.dnsRecords("example.org"), /mailroom-20310506-rsa\._domainkey/);
    await assert.rejects(ops.outbound.dnsRecords("elsewhere.test"), (e: unknown) => e instanceof AdminError && e.kind === "not-found");
  } finally {
    await temp.cleanup();
  }
});

test("queue retry and flush make entries due now; delete removes one without delivering", async () => {
  const { temp, ops } = await setup();
  try {
    const first = await enqueue(temp);
    const second = await enqueue(temp);
    const later = new Date("2031-05-06T01:00:00Z");
    await temp.store.recordAttempt(first.id, [{ address: "x@remote.test", state: "deferred", reply: "451 4.4.1 later" }], later);
    await temp.store.recordAttempt(second.id, [], later);
    assert.equal((await ops.outbound.retryQueued(first.id)).nextAttemptAt.toISOString(), "2031-05-06T00:00:00.000Z");
    assert.equal(await ops.outbound.flushQueue(), 2);
    await ops.outbound.deleteQueued(second.id);
    assert.deepEqual((await ops.outbound.listQueue()).map((e) => e.id), [first.id]);
    assert.equal(await temp.store.getQueued(second.id), null);
    await assert.rejects(ops.outbound.showQueued(999), (e: unknown) => e instanceof AdminError && e.kind === "not-found");
    // A leased entry is being delivered: the operator must wait.
    await temp.store.leaseDue(new Date("2031-05-06T00:00:00Z"), 10, 3_600_000);
    await assert.rejects(ops.outbound.retryQueued(first.id), (e: unknown) => e instanceof AdminError && e.kind === "conflict");
  } finally {
    await temp.cleanup();
  }
});

test("TXT values longer than 255 octets are split, quotes escaped", () => {
  assert.equal(txtStrings('a"b'), '"a\\"b"');
  const long = "x".repeat(300);
  assert.equal(txtStrings(long), `( "${"x".repeat(255)}" "${"x".repeat(45)}" )`);
});

test("queue hold keeps an entry from being leased until release; flush leaves it held; bounce without a server is refused", async () => {
  const { temp, ops } = await setup();
  try {
    const entry = await enqueue(temp);
    const held = await ops.outbound.holdQueued(entry.id);
    assert.ok(held.nextAttemptAt.getTime() >= Date.UTC(9000, 0, 1));
    assert.equal(await ops.outbound.flushQueue(), 0, "a held entry is not made due by flush");
    assert.deepEqual(await temp.store.leaseDue(new Date("2100-01-01T00:00:00Z"), 10, 60_000), [], "no worker leases a held entry");
    const released = await ops.outbound.releaseQueued(entry.id);
    assert.equal(released.nextAttemptAt.toISOString(), "2031-05-06T00:00:00.000Z");
    await assert.rejects(ops.outbound.releaseQueued(entry.id), (e: unknown) => e instanceof AdminError && e.kind === "conflict");
    await assert.rejects(ops.outbound.bounceQueued(entry.id), (e: unknown) => e instanceof AdminError && e.kind === "refused");
    assert.equal((await temp.store.getQueued(entry.id))?.id, entry.id, "a refused bounce changes nothing");
  } finally {
    await temp.cleanup();
  }
});

test("queue bounce hands the entry to the server's bounce with the postmaster's reason", async () => {
  const temp = await openTempStore("mailroom-admin-bounce-");
  const bounced: [number, string][] = [];
  const ops = createAdminOperations({
    accounts: temp.store,
    hashPassword: async (p) => `hash:${p}`,
    outbound: { queue: temp.store, dkim: { keyDir: join(temp.dataDir, "dkim"), selector: "mailroom" }, hostname: "mx.example.org", listeners: defaultListeners(), bounce: async (e, reason) => void bounced.push([e.id, reason]) },
  });
  try {
    const entry = await enqueue(temp);
    await ops.outbound.bounceQueued(entry.id, "spam\r\nX-Injected: yes");
    assert.deepEqual(bounced, [[entry.id, "returned to the sender by the postmaster: spam  X-Injected: yes"]]);
    await assert.rejects(ops.outbound.bounceQueued(424242), (e: unknown) => e instanceof AdminError && e.kind === "not-found");
  } finally {
    await temp.cleanup();
  }
});

test("dnsRecordList gives each recommended record as a row with its zone line", async () => {
  const { temp, ops } = await setup();
  try {
    await ops.addDomain("example.org");
    const rows = await ops.outbound.dnsRecordList("example.org");
    const mx = rows.find((r) => r.type === "MX");
    assert.equal(mx?.zoneLine, "example.org. 3600 IN MX 10 mx.example.org.");
    assert.ok(rows.some((r) => r.kind === "dkim" && r.owner.startsWith("mailroom-ed25519._domainkey")));
  } finally {
    await temp.cleanup();
  }
});
