// The systemd files in contrib/: both units pass `systemd-analyze verify` without a single
// complaint (it exits 0 on unknown keys, so its output must be empty too), carry the hardening
// the README promises, and the sysusers file creates the mailroom user (systemd-sysusers into a
// scratch root). Needs systemd's tools, which .ci/run installs; elsewhere skipped, saying why.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findRepositoryRoot } from "../harness/fixtures.js";

const exec = promisify(execFile);
const contrib = join(findRepositoryRoot(import.meta.url), "contrib");

function has(tool: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const UNITS = ["mailroom.service", "mailroom-unprivileged.service"];

test("systemd-analyze verify accepts both units without a warning", { skip: has("systemd-analyze") ? false : "systemd-analyze is not installed (Debian package systemd)" }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-units-"));
  try {
    for (const unit of UNITS) {
      // verify checks that ExecStart's program exists: point it at this machine's node.
      const text = (await readFile(join(contrib, unit), "utf8")).replaceAll("/usr/bin/node", process.execPath);
      await writeFile(join(dir, unit), text);
      const { stdout, stderr } = await exec("systemd-analyze", ["verify", join(dir, unit)], { cwd: dir }).catch((error: { stdout: string; stderr: string }) => {
        assert.fail(`${unit}: systemd-analyze verify failed:\n${error.stdout}${error.stderr}`);
      });
      assert.equal(`${stdout}${stderr}`.trim(), "", `${unit}: systemd-analyze verify complained`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the units are hardened as the README says; only the unprivileged one gets CAP_NET_BIND_SERVICE as ambient capability", async () => {
  const settings = async (unit: string) => (await readFile(join(contrib, unit), "utf8")).split("\n").filter((l) => /^[A-Za-z]+=/.test(l));
  for (const unit of UNITS) {
    const lines = await settings(unit);
    for (const expected of ["NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/mailroom", "PrivateTmp=yes", "ProtectHome=yes", "ExecReload=/bin/kill -HUP $MAINPID"]) {
      assert.ok(lines.includes(expected), `${unit}: ${expected}`);
    }
  }
  const root = await settings("mailroom.service");
  assert.ok(!root.some((l) => l.startsWith("User=") || l.startsWith("AmbientCapabilities=")), "started as root, it drops privileges itself");
  const unprivileged = await settings("mailroom-unprivileged.service");
  assert.ok(unprivileged.includes("User=mailroom"));
  assert.ok(unprivileged.includes("StateDirectory=mailroom"), "systemd makes the data directory, owned by User=");
  assert.ok(unprivileged.includes("AmbientCapabilities=CAP_NET_BIND_SERVICE"));
  assert.ok(unprivileged.includes("CapabilityBoundingSet=CAP_NET_BIND_SERVICE"));
});

test("contrib/mailroom.sysusers creates the mailroom user and group", { skip: has("systemd-sysusers") ? false : "systemd-sysusers is not installed (Debian package systemd)" }, async () => {
  const root = await mkdtemp(join(tmpdir(), "mailroom-sysusers-"));
  try {
    await mkdir(join(root, "etc", "sysusers.d"), { recursive: true });
    await copyFile(join(contrib, "mailroom.sysusers"), join(root, "etc", "sysusers.d", "mailroom.conf"));
    await exec("systemd-sysusers", [`--root=${root}`]);
    const passwd = await readFile(join(root, "etc", "passwd"), "utf8");
    assert.match(passwd, /^mailroom:x:(\d+):(\d+):Mailroom mail server:\/var\/lib\/mailroom:\/usr\/sbin\/nologin$/m);
    assert.match(await readFile(join(root, "etc", "group"), "utf8"), /^mailroom:x:\d+:/m);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
