// The outbound signer: both active keys sign, keys are cached until active.json changes, and a
// rotation takes effect without a restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { generateDkimKeys } from "../mail-auth/index.js";
import type { QueuedMessage } from "../store/index.js";
import { createDkimSigner } from "./dkim-signer.js";

const message = Buffer.from("From: alice@a.test\r\nTo: bob@b.test\r\nSubject: hi\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nHello\r\n");

function entry(mailFrom: string): QueuedMessage {
  return { id: 1, mailFrom, recipients: [] } as unknown as QueuedMessage;
}

test("signs with the domain's active keys, reading the message once, and follows a rotation", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-signer-"));
  try {
    let opened = 0;
    const sign = createDkimSigner(dir, {
      openQueued: () => {
        opened++;
        return Readable.from([message]);
      },
    });
    assert.equal((await sign(entry("alice@a.test"))).length, 0, "no keys yet: unsigned");
    assert.equal((await sign(entry(""))).length, 0, "null sender: unsigned");
    assert.equal((await sign(entry("x@../etc"))).length, 0, "not a domain: unsigned");
    await generateDkimKeys(dir, "a.test", "mailroom");
    const first = (await sign(entry("alice@A.test"))).toString();
    assert.equal(opened, 1);
    assert.deepEqual([...first.matchAll(/s=([a-z0-9-]+);/g)].map((m) => m[1]), ["mailroom-ed25519", "mailroom-rsa"]);
    assert.match(first, /d=a\.test;/);
    await generateDkimKeys(dir, "a.test", "mailroom", { rotate: true, now: new Date("2031-02-03T00:00:00Z") });
    const rotated = (await sign(entry("alice@a.test"))).toString();
    assert.deepEqual([...rotated.matchAll(/s=([a-z0-9-]+);/g)].map((m) => m[1]), ["mailroom-20310203-ed25519", "mailroom-20310203-rsa"]);
    // A downgraded copy is signed over the bytes given, not the stored ones.
    const other = (await sign(entry("alice@a.test"), () => Readable.from([Buffer.from(message.toString().replace("Hello", "Bye"))]))).toString();
    assert.notEqual(/bh=([^;]+);/.exec(other)?.[1], /bh=([^;]+);/.exec(rotated)?.[1]);
    assert.equal(opened, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
