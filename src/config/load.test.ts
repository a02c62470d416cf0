import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, describeConfigKeys, loadConfig, parseConfigText, renderDefaultConfig } from "./index.js";

const base = { cwd: "/srv/mail", env: {}, hostname: "mx.example.org" };

function problemsOf(source: string, options = base): string[] {
  try {
    parseConfigText(source, options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return [...error.problems];
  }
  assert.fail("expected a ConfigError");
}

test("an empty file gives the documented defaults", () => {
  const config = parseConfigText("", base);
  assert.equal(config.server.hostname, "mx.example.org");
  assert.equal(config.server.dataDir, "/srv/mail/data");
  assert.equal(config.server.logLevel, "info");
  assert.equal(config.server.portFallbackOffset, 0, "a refused port fails the start unless the operator opts into moving it");
  assert.equal(config.limits.smtpLineLength, 512);
  assert.equal(config.limits.smtpTextLineLength, 1000);
  assert.equal(config.limits.maxMessageSize, 50 * 1024 * 1024);
  assert.equal(config.limits.imapLiteralSize, 50 * 1024 * 1024);
  assert.equal(config.limits.imapLineLength, 65_536);
  assert.equal(config.limits.pop3LineLength, 255);
  assert.equal(config.limits.maxRecipients, 100);
  assert.equal(config.limits.smtpIdle, 300_000);
  assert.equal(config.limits.imapIdle, 1_800_000);
  assert.equal(config.limits.imapUnauthenticatedIdle, 60_000);
  assert.equal(config.limits.pop3Idle, 600_000);
  assert.equal(config.limits.pop3UnauthenticatedIdle, 60_000);
  assert.equal(config.limits.pop3CommandDeadline, 60_000);
  assert.equal(config.limits.tlsHandshakeTimeout, 10_000);
  assert.equal(config.auth.throttleBaseDelay, 200);
  assert.equal(config.auth.throttleMaxDelay, 15_000);
  assert.equal(config.auth.argon2MemoryKib, 19_456);
  assert.equal(config.tls.certFile, null);
  assert.equal(config.tls.minVersion, "TLSv1.2");
  assert.equal(config.tls.allowPlaintextAuth, false);
  assert.equal(config.pop3.defaultMode, "keep");
  assert.equal(config.pop3.markSeenOnRetr, true);
  assert.deepEqual({ searchMaxDepth: config.imap.searchMaxDepth, searchMaxKeys: config.imap.searchMaxKeys }, { searchMaxDepth: 64, searchMaxKeys: 1000 });
  assert.deepEqual({ entry: config.imap.metadataMaxEntrySize, entries: config.imap.metadataMaxEntries, account: config.imap.metadataMaxAccountSize }, { entry: 65536, entries: 100, account: 1048576 });
  assert.equal(config.store.backend, "sqlite");
  assert.equal(config.shutdown.gracePeriod, 10_000);
  assert.deepEqual(
    config.listeners.map((l) => `${l.protocol}:${l.port}:${l.tls}:${l.address}`),
    ["smtp:25:starttls", "submission:587:starttls", "submissions:465:implicit", "imap:143:starttls", "imaps:993:implicit", "pop3:110:starttls", "pop3s:995:implicit", "managesieve:4190:starttls"].map((s) => `${s}:::`),
  );
});

test("the result is deeply frozen", () => {
  const config = parseConfigText("", base);
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.limits));
  assert.ok(Object.isFrozen(config.listeners));
  assert.ok(Object.isFrozen(config.listeners[0]));
  assert.throws(() => {
    (config.limits as { maxRecipients: number }).maxRecipients = 1;
  }, TypeError);
});

test("sizes accept bytes and K/M/G strings, durations accept seconds and unit strings", () => {
  const config = parseConfigText(
    [
      "[limits]",
      "max_message_size = \"25M\"",
      "imap_line_length = 8192",
      "pop3_line_length = \"1K\"",
      "smtp_idle = 90",
      "imap_idle = \"1h\"",
      "tls_handshake_timeout = \"500ms\"",
      "pop3_idle = \"1.5m\"",
      "pop3_unauthenticated_idle = \"20s\"",
      "pop3_command_deadline = 30",
    ].join("\n"),
    base,
  );
  assert.equal(config.limits.maxMessageSize, 25 * 1024 * 1024);
  assert.equal(config.limits.imapLiteralSize, 25 * 1024 * 1024, "literal size follows max_message_size unless set");
  assert.equal(config.limits.imapLineLength, 8192);
  assert.equal(config.limits.pop3LineLength, 1024);
  assert.equal(config.limits.smtpIdle, 90_000);
  assert.equal(config.limits.imapIdle, 3_600_000);
  assert.equal(config.limits.tlsHandshakeTimeout, 500);
  assert.equal(config.limits.pop3Idle, 90_000);
  assert.equal(config.limits.pop3UnauthenticatedIdle, 20_000);
  assert.equal(config.limits.pop3CommandDeadline, 30_000);
});

test("a bad value names the key and what was expected", () => {
  assert.deepEqual(problemsOf('[limits]\nmax_message_size = "lots"'), [
    'config error: limits.max_message_size: expected a size like "50M" or a number of bytes, got "lots"',
  ]);
  assert.match(problemsOf('[limits]\nsmtp_idle = "soon"')[0] ?? "", /^config error: limits\.smtp_idle: expected a duration like/);
  assert.match(problemsOf("[limits]\nsmtp_line_length = 100")[0] ?? "", /^config error: limits\.smtp_line_length: expected a size from 512 to 1M, got 100$/);
  assert.match(problemsOf('[server]\nlog_level = "loud"')[0] ?? "", /^config error: server\.log_level: expected one of "debug", "info", "warn", "error", got "loud"$/);
  assert.match(problemsOf('[tls]\nallow_plaintext_auth = "yes"')[0] ?? "", /^config error: tls\.allow_plaintext_auth: expected true or false/);
  assert.match(problemsOf("[auth]\nargon2_time_cost = 2.5")[0] ?? "", /^config error: auth\.argon2_time_cost: expected an integer from 1 to 100, got 2.5$/);
  assert.match(problemsOf("limits = 5")[0] ?? "", /^config error: limits: expected a table, got 5$/);
});

test("every problem is reported, one line each", () => {
  const problems = problemsOf('[limits]\nmax_recipients = 0\nsmtp_idle = "x"\n[store]\nbackend = "postgres"');
  assert.equal(problems.length, 3);
  for (const line of problems) assert.ok(!line.includes("\n") && line.startsWith("config error: "));
});

test("MAILROOM_PORT_FALLBACK_OFFSET opts into moving refused ports (what npm start sets)", () => {
  assert.equal(parseConfigText("", { ...base, env: { MAILROOM_PORT_FALLBACK_OFFSET: "10000" } }).server.portFallbackOffset, 10_000);
  assert.equal(parseConfigText("[server]\nport_fallback_offset = 5", { ...base, env: {} }).server.portFallbackOffset, 5);
  assert.deepEqual(problemsOf("", { ...base, env: { MAILROOM_PORT_FALLBACK_OFFSET: "lots" } }), [
    'config error: MAILROOM_PORT_FALLBACK_OFFSET: expected a number of ports from 0 to 65535, got "lots"',
  ]);
});

test("unknown keys and sections are errors that name them", () => {
  assert.deepEqual(problemsOf("[limits]\nmax_mesage_size = 10"), ["config error: limits.max_mesage_size: unknown key (did you mean max_message_size?)"]);
  assert.deepEqual(problemsOf("[limitz]\nx = 1"), ["config error: limitz: unknown section (did you mean limits?)"]);
  assert.deepEqual(problemsOf("[server]\nmax_recipients = 5"), ["config error: server.max_recipients: unknown key (it belongs in [limits])"]);
  assert.deepEqual(problemsOf('hostname = "x"'), ["config error: hostname: unknown key (it belongs in [server])"]);
  assert.deepEqual(problemsOf('[[listeners]]\nprotocol = "imap"\nportt = 1'), ["config error: listeners[0].portt: unknown key (did you mean port?)"]);
});

test("listeners: defaults per protocol, and contradictions are errors", () => {
  const config = parseConfigText('[[listeners]]\nprotocol = "imaps"\n[[listeners]]\nprotocol = "smtp"\nport = 2525\naddress = "127.0.0.1"\ntls = "none"', base);
  assert.deepEqual(config.listeners, [
    { protocol: "imaps", port: 993, address: "::", tls: "implicit" },
    { protocol: "smtp", port: 2525, address: "127.0.0.1", tls: "none" },
  ]);
  assert.match(problemsOf('[[listeners]]\nprotocol = "imaps"\ntls = "starttls"')[0] ?? "", /^config error: listeners\[0\]\.tls: imaps is implicit TLS/);
  assert.match(problemsOf('[[listeners]]\nprotocol = "pop3"\ntls = "implicit"')[0] ?? "", /use pop3s for implicit TLS/);
  assert.match(problemsOf('[[listeners]]\nprotocol = "gopher"')[0] ?? "", /^config error: listeners\[0\]\.protocol: expected one of "smtp"/);
  assert.match(problemsOf("[[listeners]]\nport = 25")[0] ?? "", /^config error: listeners\[0\]\.protocol: missing/);
  assert.match(problemsOf('[[listeners]]\nprotocol = "imap"\nport = 70000')[0] ?? "", /^config error: listeners\[0\]\.port: expected an integer from 0 to 65535, got 70000$/);
  assert.match(problemsOf('[[listeners]]\nprotocol = "imap"\nport = 1143\n[[listeners]]\nprotocol = "pop3"\nport = 1143')[0] ?? "", /listeners\[1\]: \[::\]:1143 is already used by listeners\[0\]/);
  assert.deepEqual(parseConfigText("listeners = []", base).listeners, []);
});

test("cross-key rules: cert and key together, base delay not above max", () => {
  assert.deepEqual(problemsOf('[tls]\ncert_file = "a.pem"'), ["config error: tls.key_file: required when tls.cert_file is set"]);
  assert.deepEqual(problemsOf('[auth]\nthrottle_base_delay = "20s"'), ["config error: auth.throttle_base_delay: must not exceed auth.throttle_max_delay"]);
  const config = parseConfigText('[tls]\ncert_file = "certs/a.pem"\nkey_file = "/etc/k.pem"', base);
  assert.equal(config.tls.certFile, "/srv/mail/certs/a.pem");
  assert.equal(config.tls.keyFile, "/etc/k.pem");
});

test("TOML syntax errors name the file and the line", () => {
  try {
    parseConfigText('[server]\nhostname = "a"\nlog_level = = "x"\n', { ...base, file: "/etc/mailroom.toml" });
    assert.fail("expected an error");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /^config error: \/etc\/mailroom\.toml line 3: /);
  }
});

test("loadConfig: zero-config without a file, env names the file and the data dir", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-config-"));
  try {
    const zero = await loadConfig({ cwd: dir, env: {} });
    assert.equal(zero.sourceFile, null);
    assert.equal(zero.server.dataDir, join(dir, "data"));

    const file = join(dir, "custom.toml");
    await writeFile(file, '[server]\ndata_dir = "/var/lib/mail"\nlog_level = "debug"\n');
    const fromEnv = await loadConfig({ cwd: dir, env: { MAILROOM_CONFIG: file } });
    assert.equal(fromEnv.sourceFile, file);
    assert.equal(fromEnv.server.logLevel, "debug");
    assert.equal(fromEnv.server.dataDir, "/var/lib/mail");

    const overridden = await loadConfig({ cwd: dir, env: { MAILROOM_CONFIG: "custom.toml", MAILROOM_DATA_DIR: "spool" } });
    assert.equal(overridden.server.dataDir, join(dir, "spool"), "env wins over the file");

    await writeFile(join(dir, "mailroom.toml"), "[limits]\nmax_recipients = 7\n");
    assert.equal((await loadConfig({ cwd: dir, env: {} })).limits.maxRecipients, 7, "mailroom.toml in the working directory is read");
    assert.equal((await loadConfig({ cwd: dir, env: { MAILROOM_CONFIG: file }, path: join(dir, "mailroom.toml") })).limits.maxRecipients, 7, "path wins over env");

    await assert.rejects(loadConfig({ cwd: dir, env: { MAILROOM_CONFIG: "missing.toml" } }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, `config error: ${join(dir, "missing.toml")}: no such file`);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the rendered default file loads back to exactly the defaults", () => {
  const rendered = renderDefaultConfig();
  assert.deepEqual(parseConfigText(rendered, { ...base, file: "x" }), parseConfigText("", { ...base, file: "x" }));
  for (const { key } of describeConfigKeys()) {
    const name = key.split(".").pop()?.replace("listeners[].", "") ?? key;
    assert.ok(rendered.includes(name), `rendered file mentions ${key}`);
  }
});

test("describeConfigKeys covers every section key with a default and a description", () => {
  const keys = describeConfigKeys();
  const byKey = new Map(keys.map((k) => [k.key, k]));
  assert.equal(byKey.get("limits.max_message_size")?.default, '"50M"');
  assert.equal(byKey.get("auth.throttle_base_delay")?.default, '"200ms"');
  assert.equal(byKey.get("limits.imap_literal_size")?.default, "max_message_size");
  assert.ok(byKey.has("listeners[].tls"));
  for (const k of keys) assert.ok(k.description.length > 0 && k.default.length > 0, k.key);
});

test("loadConfig: server.hostname defaults to the machine's FQDN (host-name.ts), looked up only when the file names none", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-config-"));
  try {
    let lookups = 0;
    const machineHostname = async () => {
      lookups++;
      return "vm.example.org";
    };
    assert.equal((await loadConfig({ cwd: dir, env: {}, machineHostname })).server.hostname, "vm.example.org");
    const file = join(dir, "mailroom.toml");
    await writeFile(file, "[limits]\nsmtp_idle = 600\n");
    assert.equal((await loadConfig({ cwd: dir, env: {}, machineHostname })).server.hostname, "vm.example.org");
    await writeFile(file, '[server]\nhostname = "mx.example.net"\n');
    assert.equal(lookups, 2);
    assert.equal((await loadConfig({ cwd: dir, env: {}, machineHostname })).server.hostname, "mx.example.net");
    assert.equal(lookups, 2, "a file that names the host needs no lookup");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("[store] backend = \"postgresql\" needs a postgres:// url; a password in a bad url is not echoed", () => {
  const config = parseConfigText('[store]\nbackend = "postgresql"\nurl = "postgres://mail@db.example:5432/mailroom"\npassword_env = "MAILROOM_DB_PASSWORD"', { ...base, env: {} });
  assert.deepEqual([config.store.backend, config.store.url, config.store.passwordEnv, config.store.passwordFile, config.store.maxConnections], ["postgresql", "postgres://mail@db.example:5432/mailroom", "MAILROOM_DB_PASSWORD", null, 20]);
  assert.deepEqual(problemsOf('[store]\nbackend = "postgresql"'), ['config error: store.url: required when store.backend = "postgresql"']);
  const bad = problemsOf('[store]\nbackend = "postgresql"\nurl = "mysql://u:hunter2@h/db"');
  assert.equal(bad.length, 1);
  assert.ok(!bad[0]!.includes("hunter2"), bad[0]);
  assert.equal(problemsOf('[store]\nurl = "postgres://h/db"\npassword_env = "A"\npassword_file = "/f"').length, 1);
});

test("[imap] METADATA limits are read and bounded (RFC 5464)", () => {
  const config = parseConfigText('[imap]\nmetadata_max_entry_size = "4K"\nmetadata_max_entries = 10\nmetadata_max_account_size = "2M"\n', base);
  assert.deepEqual([config.imap.metadataMaxEntrySize, config.imap.metadataMaxEntries, config.imap.metadataMaxAccountSize], [4096, 10, 2 * 1024 * 1024]);
  assert.throws(() => parseConfigText("[imap]\nmetadata_max_entries = 0\n", base), /metadata_max_entries/);
});

test("[imap] message_limit is read, 0 (off) by default (RFC 9738)", () => {
  assert.equal(parseConfigText("", base).imap.messageLimit, 0);
  assert.equal(parseConfigText("[imap]\nmessage_limit = 1000\n", base).imap.messageLimit, 1000);
  assert.throws(() => parseConfigText("[imap]\nmessage_limit = -1\n", base), /message_limit/);
});

test("[imap] quota_admins is a list of addresses, empty by default (RFC 9208 SETQUOTA)", () => {
  assert.deepEqual(parseConfigText("", base).imap.quotaAdmins, []);
  assert.deepEqual(parseConfigText('[imap]\nquota_admins = ["postmaster@example.org"]\n', base).imap.quotaAdmins, ["postmaster@example.org"]);
  assert.throws(() => parseConfigText("[imap]\nquota_admins = 3\n", base), /quota_admins/);
});

test("[imap] search limits are read and bounded", () => {
  const config = parseConfigText("[imap]\nsearch_max_depth = 8\nsearch_max_keys = 50\n", base);
  assert.deepEqual({ searchMaxDepth: config.imap.searchMaxDepth, searchMaxKeys: config.imap.searchMaxKeys }, { searchMaxDepth: 8, searchMaxKeys: 50 });
  assert.throws(() => parseConfigText("[imap]\nsearch_max_depth = 0\n", base), /search_max_depth/);
});
