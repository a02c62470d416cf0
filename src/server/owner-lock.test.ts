import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acquireOwnerLock, acquireServeLock, DataDirBusyError, OWNER_LOCK_FILE } from "./owner-lock.js";

test("one holder at a time, named to the refused; released, the next one gets it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-lock-"));
  try {
    const first = acquireOwnerLock(dir, "serve");
    const label = JSON.parse(await readFile(join(dir, OWNER_LOCK_FILE), "utf8")) as { pid: number; role: string };
    assert.deepEqual([label.pid, label.role], [process.pid, "serve"]);
    // flock belongs to the open file, so a second open in the same process is refused too.
    assert.throws(
      () => acquireOwnerLock(dir, "user add"),
      (err: unknown) => err instanceof DataDirBusyError && err.holder.pid === process.pid && err.holder.role === "serve" && err.message === `the data directory ${dir} is in use by mailroom serve (pid ${process.pid})`,
    );
    first.release();
    assert.equal(await readFile(join(dir, OWNER_LOCK_FILE), "utf8"), "", "the label goes with the lock");
    const second = acquireOwnerLock(dir, "user add");
    assert.throws(() => acquireOwnerLock(dir, "serve"), /in use by mailroom user add \(pid \d+\)/);
    second.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("serve waits for an admin command to finish, never for another server", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-lock-"));
  try {
    const command = acquireOwnerLock(dir, "user add");
    setTimeout(() => command.release(), 300);
    const serve = await acquireServeLock(dir, 10_000);
    const started = Date.now();
    await assert.rejects(acquireServeLock(dir, 10_000), /in use by mailroom serve/);
    assert.ok(Date.now() - started < 1000, "a second server is refused at once");
    serve.release();
    const busy = acquireOwnerLock(dir, "user list");
    await assert.rejects(acquireServeLock(dir, 200), /in use by mailroom user list/);
    busy.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
