// Node state shared by every node (migration 12), with two stores on one database standing in for
// two nodes: DKIM keys made on one are the keys of the other (rotation too), the ACME account key
// is one, certificates, HTTP-01 and TLS-ALPN-01 answers written by one are read by the other, one node at a
// time holds an order claim, windowed counters and takes sum over both, POP3 LOGIN-DELAY holds
// across them. The shared send limiter (abuse/send-limits.ts) is checked over the real tables.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../../../test/harness/postgres.js";
import { createSharedSendLimiter } from "../../abuse/send-limits.js";
import { generateDkimKeys, loadDkimKeys } from "../../mail-auth/index.js";
import { openPostgresStore, type PostgresStore } from "./postgresql-store.js";
import { PostgresNodeState } from "./node-state.js";

const unavailable = postgresUnavailable();

if (unavailable !== null) {
  describe("postgresql shared node state", { skip: unavailable }, () => undefined);
} else {
  describe("postgresql shared node state", () => {
    let cluster: PostgresCluster;
    let storeA: PostgresStore;
    let storeB: PostgresStore;
    let a: PostgresNodeState;
    let b: PostgresNodeState;
    before(async () => {
      cluster = await startPostgres();
      const url = await cluster.createDatabase("nodestate");
      storeA = await openPostgresStore({ url, maxConnections: 6 });
      storeB = await openPostgresStore({ url, maxConnections: 6 });
      a = new PostgresNodeState(storeA.pool);
      b = new PostgresNodeState(storeB.pool);
    });
    after(async () => {
      await storeA?.close();
      await storeB?.close();
      await cluster?.stop();
    });

    test("DKIM keys generated on one node are the other's; a rotation switches both and keeps the old selectors", async () => {
      assert.equal(await loadDkimKeys(b, "example.org"), null);
      const made = await generateDkimKeys(a, "Example.ORG", "mailroom");
      assert.deepEqual(made.keys.map((k) => k.selector), ["mailroom-ed25519", "mailroom-rsa"]);
      const seen = await loadDkimKeys(b, "example.org");
      assert.deepEqual(seen, made);
      const rotated = await generateDkimKeys(b, "example.org", "mailroom", { rotate: true, now: new Date("2031-02-03T00:00:00Z") });
      assert.deepEqual(rotated.keys.map((k) => k.selector), ["mailroom-20310203-ed25519", "mailroom-20310203-rsa"]);
      assert.deepEqual((await loadDkimKeys(a, "example.org"))!.keys.map((k) => k.selector), ["mailroom-20310203-ed25519", "mailroom-20310203-rsa"]);
      const all = await a.listAllDkimKeys();
      assert.deepEqual(all.map((k) => `${k.selector}:${k.active}`), ["mailroom-20310203-ed25519:true", "mailroom-20310203-rsa:true", "mailroom-ed25519:false", "mailroom-rsa:false"]);
      await assert.rejects(loadDkimKeys(a, "../etc"), RangeError);
    });

    test("ACME: one account key, certificates, HTTP-01 and TLS-ALPN-01 answers seen by both, one order claim at a time", async () => {
      assert.equal(await a.readAcmeAccountKey(), null);
      const [first, second] = await Promise.all([a.saveAcmeAccountKey("KEY-A"), b.saveAcmeAccountKey("KEY-B")]);
      assert.equal(first, second, "both nodes end with the one stored key");
      assert.equal(await b.readAcmeAccountKey(), first);

      await a.saveAcmeCertificate("mx.example.org", "CERT1", "KEY1");
      const one = await b.readAcmeCertificate("mx.example.org");
      assert.equal(one?.certPem, "CERT1");
      await b.saveAcmeCertificate("mx.example.org", "CERT2", "KEY2");
      const two = (await a.listAcmeCertificates()).find((c) => c.name === "mx.example.org")!;
      assert.equal(two.certPem, "CERT2");
      assert.ok(two.updatedAt > one!.updatedAt, "a renewal's time is later than the one it replaced");
      await a.deleteAcmeCertificate("mx.example.org");
      assert.equal(await b.readAcmeCertificate("mx.example.org"), null);

      assert.equal(await a.claimAcmeOrder("mx.example.org", "node-a", 60_000), true);
      assert.equal(await b.claimAcmeOrder("mx.example.org", "node-b", 60_000), false, "held by A");
      assert.equal(await a.claimAcmeOrder("mx.example.org", "node-a", 60_000), true, "the holder may renew its claim");
      await a.releaseAcmeOrder("mx.example.org", "node-a");
      assert.equal(await b.claimAcmeOrder("mx.example.org", "node-b", 1), true);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(await a.claimAcmeOrder("mx.example.org", "node-a", 60_000), true, "an expired claim is taken over");

      await a.saveAcmeHttpChallenge("token-1234567890abcdef", "token-1234567890abcdef.thumb", 60_000);
      assert.equal(await b.readAcmeHttpChallenge("token-1234567890abcdef"), "token-1234567890abcdef.thumb");
      await a.saveAcmeHttpChallenge("token-expired-0000000000", "x", 1);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(await b.readAcmeHttpChallenge("token-expired-0000000000"), null, "an expired answer is not served");
      await a.deleteAcmeHttpChallenge("token-1234567890abcdef");
      assert.equal(await b.readAcmeHttpChallenge("token-1234567890abcdef"), null);

      // TLS-ALPN-01 (migration 17): the challenge certificate of a name, whatever the name's case.
      await a.saveAcmeAlpnChallenge("MX.example.org", "ALPN-CERT", "ALPN-KEY", 60_000);
      assert.deepEqual(await b.readAcmeAlpnChallenge("mx.example.ORG"), { certPem: "ALPN-CERT", keyPem: "ALPN-KEY" });
      await b.saveAcmeAlpnChallenge("mx.example.org", "ALPN-CERT2", "ALPN-KEY2", 60_000);
      assert.equal((await a.readAcmeAlpnChallenge("mx.example.org"))?.certPem, "ALPN-CERT2", "a new order's answer replaces the old one");
      await a.saveAcmeAlpnChallenge("old.example.org", "C", "K", 1);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(await b.readAcmeAlpnChallenge("old.example.org"), null, "an expired answer is not served");
      await a.deleteAcmeAlpnChallenge("mx.example.org");
      assert.equal(await b.readAcmeAlpnChallenge("mx.example.org"), null);
    });

    test("windowed counters: adds and takes of two nodes sum; a take never passes its limit under concurrency", async () => {
      const window = { key: "test:hour", bucketMs: 60_000, buckets: 60 };
      await a.addCounters([{ ...window, amount: 3 }]);
      await b.addCounters([{ ...window, amount: 4 }, { key: "test:other", bucketMs: 3_600_000, buckets: 24, amount: 1 }]);
      assert.deepEqual(await a.sumCounters([window, { key: "test:other", bucketMs: 3_600_000, buckets: 24 }, { key: "test:none", bucketMs: 60_000, buckets: 1 }]), [7, 1, 0]);
      const day = { key: "test:take", bucketMs: 86_400_000, buckets: 1 };
      const takes = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).takeCounter(day, 7)));
      assert.equal(takes.filter(Boolean).length, 7, "exactly the limit is taken across both nodes");
      assert.equal(await a.takeCounter(day, 0), false);
      assert.equal(await a.pruneCounters(), 0, "nothing is past its window yet");
      await assert.rejects(a.addCounters([{ ...window, amount: -1 }]), RangeError);
    });

    test("POP3 LOGIN-DELAY: a login on one node delays the next on the other", async () => {
      await storeA.addDomain("example.org");
      const account = await storeA.createAccount({ address: "pop@example.org", passwordHash: "x" });
      assert.equal(await b.pop3LoginWait(account.id, 300), 0, "never logged in");
      await a.recordPop3Login(account.id);
      const wait = await b.pop3LoginWait(account.id, 300);
      assert.ok(wait > 290_000 && wait <= 300_000, `waits about 300 s, not ${wait}`);
      assert.equal(await b.pop3LoginWait(account.id, 0), 0, "no delay configured");
    });

    test("send limits over the shared counters: two nodes share one hourly limit and claim one suspension", async () => {
      const settings = { messagesPerHour: 3, recipientsPerMessage: 0, recipientsPerDay: 5, domainMessagesPerHour: 0, maxFailedRatio: 0, failedRatioMinRecipients: 0, suspendAfterRefusals: 2 };
      const onA = createSharedSendLimiter(settings, a);
      const onB = createSharedSendLimiter(settings, b);
      const user = "Sender@Example.org";
      for (const [i, limiter] of [onA, onB, onA].entries()) {
        assert.equal(await limiter.checkMessage(user), null, `message ${i + 1} passes`);
        await limiter.recordMessage(user, 1, 1);
      }
      const refused = await onB.checkMessage("sender@example.org");
      assert.equal(refused?.limit, "messages_per_hour", "the fourth, on the other node, is over the one limit");
      assert.equal(refused?.suspend, false);
      const second = await onA.checkRecipient(user, 2);
      assert.equal(second?.limit, "recipients_per_day", "3 sent + 2 pending + 1 > 5");
      assert.equal(second?.suspend, true, "the second refusal over both nodes reaches suspend_after_refusals");
      const more = await Promise.all([onA.checkMessage(user), onB.checkMessage(user), onA.checkMessage(user)]);
      assert.deepEqual(more.map((r) => [r?.limit, r?.suspend]), Array(3).fill(["messages_per_hour", false]), "refused, and the suspension is not claimed again");
      assert.equal(await createSharedSendLimiter(settings, b).checkMessage("other@example.org"), null, "another account has its own count");
    });
  });
}
