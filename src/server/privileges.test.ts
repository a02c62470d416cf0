import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfigText } from "../config/index.js";
import { createMemoryLogger } from "../observability/log.js";
import { planPrivilegeDrop, PrivilegeError, type PrivilegeSystem, type SystemUser } from "./privileges.js";

/** A system of tables: who exists, whether we are root, what the last switch did. */
function fakeSystem(options: { root: boolean; users?: SystemUser[]; creatable?: boolean; switchFails?: boolean }) {
  const users = new Map((options.users ?? []).map((u) => [u.name, u]));
  let uid = options.root ? 0 : 1000;
  const calls: string[] = [];
  const system: PrivilegeSystem = {
    isRoot: () => uid === 0,
    lookupUser: (name) => users.get(name) ?? null,
    createUser(name) {
      calls.push(`create ${name}`);
      if (!options.creatable) throw Object.assign(new Error("useradd failed"), { stderr: Buffer.from("useradd: cannot lock /etc/passwd") });
      users.set(name, { name, uid: 990, gid: 990 });
    },
    switchTo(user) {
      calls.push(`switch ${user.name}`);
      if (!options.switchFails) uid = user.uid;
    },
    currentUid: () => uid,
  };
  return { system, calls };
}

async function withDataDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-priv-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const configIn = (dir: string, user?: string) => parseConfigText(user ? `[server]\nuser = "${user}"` : "", { cwd: dir, hostname: "mx.example.org" });

test("not root: nothing changes, whatever server.user says", async () => {
  await withDataDir(async (dir) => {
    const { system, calls } = fakeSystem({ root: false });
    const plan = planPrivilegeDrop(configIn(dir, "mail"), createMemoryLogger(), system);
    assert.equal(plan.user, null);
    plan.afterBind();
    assert.deepEqual(calls, []);
  });
});

test("root: the default user is created when missing, and the drop happens after binding", async () => {
  await withDataDir(async (dir) => {
    const { system, calls } = fakeSystem({ root: true, creatable: true });
    const log = createMemoryLogger();
    const plan = planPrivilegeDrop(configIn(dir), log, system);
    assert.deepEqual(plan.user, { name: "mailroom", uid: 990, gid: 990 });
    assert.deepEqual(calls, ["create mailroom"]);
    assert.ok(log.records.some((r) => r.event === "privileges.user_created" && r.user === "mailroom"));
    // afterBind chowns the data directory first, which only real root may do.
    if (process.getuid?.() === 0) {
      plan.afterBind();
      assert.deepEqual(calls, ["create mailroom", "switch mailroom"]);
    }
  });
});

test("root: a user that cannot be created, a user with uid 0, and a drop that leaves uid 0 each stop the start", async () => {
  await withDataDir(async (dir) => {
    assert.throws(() => planPrivilegeDrop(configIn(dir), createMemoryLogger(), fakeSystem({ root: true }).system), (e: unknown) => e instanceof PrivilegeError && /user "mailroom" does not exist and could not be created \(useradd: cannot lock \/etc\/passwd\)/.test(e.message));
    const toor = fakeSystem({ root: true, users: [{ name: "toor", uid: 0, gid: 0 }] }).system;
    assert.throws(() => planPrivilegeDrop(configIn(dir, "toor"), createMemoryLogger(), toor), /is root \(uid 0\)/);
    if (process.getuid?.() === 0) {
      const stuck = fakeSystem({ root: true, users: [{ name: "mail", uid: 8, gid: 8 }], switchFails: true }).system;
      const plan = planPrivilegeDrop(configIn(dir, "mail"), createMemoryLogger(), stuck);
      assert.throws(() => plan.afterBind(), /still running as root/);
    }
  });
});

test("root: a data directory that is a system directory is never handed over", () => {
  const { system, calls } = fakeSystem({ root: true, users: [{ name: "mailroom", uid: 990, gid: 990 }] });
  const config = parseConfigText('[server]\ndata_dir = "/var/lib"', { cwd: "/", hostname: "mx.example.org" });
  assert.throws(() => planPrivilegeDrop(config, createMemoryLogger(), system), /server\.data_dir: \/var\/lib is a system directory/);
  assert.deepEqual(calls, []);
});
