// The import rules of docs/architecture.md, enforced: every import under src/ is checked against
// the table of allowed edges below. A failure names the file and the edge that broke the rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Layer of each concern, lowest first; a module may import its own concern and lower layers. */
const LAYERS: [prefix: string, layer: number][] = [
  ["mail/", 0],
  ["sieve/", 0],
  ["smtp/protocol/", 0],
  ["imap/protocol/", 0],
  ["pop3/protocol/", 0],
  ["managesieve/protocol/", 0],
  ["config/", 1],
  ["observability/", 1],
  ["net/", 1],
  ["abuse/", 1],
  ["store/", 2],
  ["mail-auth/", 2],
  ["auth/", 3],
  ["delivery/", 3],
  ["queue/", 3],
  ["spam/", 3],
  ["import/", 3],
  ["smtp/", 4],
  ["imap/", 4],
  ["pop3/", 4],
  ["managesieve/", 4],
  ["admin/", 4],
  ["http/", 4],
  ["server/", 5],
  ["main.ts", 5],
  ["architecture.test.ts", 5],
];

/** Third-party packages that only one place (and its test) may import, so a swap (or a Node 22 move) is one file. */
const PACKAGE_OWNERS: Record<string, string[]> = {
  "better-sqlite3": ["store/sqlite/"],
  pg: ["store/postgresql/"],
  mailauth: ["mail-auth/"],
  "@node-rs/argon2": ["auth/password-hash"],
  selfsigned: ["net/tls-context", "net/selfsigned-worker"],
  "smol-toml": ["config/"],
  commander: ["admin/cli/"],
  fastify: ["http/"],
  "prom-client": ["observability/metrics"],
  "acme-client": ["net/acme"],
  imapflow: ["import/migrate-imap"],
};

const PROTOCOLS = ["smtp/", "imap/", "pop3/", "managesieve/"];
const PURE = ["mail/", "sieve/", "smtp/protocol/", "imap/protocol/", "pop3/protocol/", "managesieve/protocol/"];

function concernOf(path: string): [string, number] {
  const match = LAYERS.find(([prefix]) => path.startsWith(prefix));
  if (!match) throw new Error(`src/${path} is in no layer: add its folder to the table in architecture.test.ts`);
  return match;
}

function sourceRoot(): string {
  // Runs from dist/src when compiled; the rules are checked on the TypeScript sources.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!readdirSync(dir).includes("package.json")) dir = dirname(dir);
  return join(dir, "src");
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function violations(root: string, file: string): string[] {
  return violationsIn(root, relative(root, file).split(sep).join("/"), readFileSync(file, "utf8"));
}

/** `from` is the importing file's path under src/; `text` its source. */
function violationsIn(root: string, from: string, text: string): string[] {
  const file = join(root, from);
  const isTest = from.endsWith(".test.ts");
  const [fromConcern, fromLayer] = concernOf(from);
  const found: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2]!;
    if (!specifier.startsWith(".")) {
      const pkg = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]!;
      const owners = PACKAGE_OWNERS[pkg];
      if (owners && !owners.some((o) => from.startsWith(o))) found.push(`${from} imports package ${pkg}, which only ${owners.join(", ")} may import`);
      if (PURE.some((p) => from.startsWith(p)) && !isTest && /^node:(net|tls|fs|fs\/promises|child_process|http|dgram)$/.test(specifier)) {
        found.push(`${from} is pure (no I/O) but imports ${specifier}`);
      }
      continue;
    }
    const target = relative(root, resolve(dirname(file), specifier)).split(sep).join("/").replace(/\.js$/, ".ts");
    if (target.startsWith("..")) continue;
    const [toConcern, toLayer] = concernOf(target);
    if (toConcern === fromConcern) continue;
    const edge = `${from} -> ${target}`;
    if (toLayer > fromLayer) found.push(`${edge}: layer ${fromLayer} may not import layer ${toLayer}`);
    else if (PROTOCOLS.includes(fromConcern) && PROTOCOLS.includes(toConcern)) found.push(`${edge}: protocols never import each other`);
    else if (toConcern === "store/" && fromLayer < 5 && !isTest && target !== "store/index.ts" && !fromConcern.startsWith("store")) {
      found.push(`${edge}: outside store/, import only store/index.ts`);
    }
  }
  return found;
}

test("every import under src/ follows the layer table", () => {
  const root = sourceRoot();
  const found = sourceFiles(root).flatMap((file) => violations(root, file));
  assert.deepEqual(found, []);
});

test("the checker catches each kind of forbidden edge", () => {
  // Guards the guard: a pattern that silently matched nothing would pass every tree.
  const root = sourceRoot();
  const cases: [from: string, text: string, complaint: RegExp][] = [
    ["mail/envelope.ts", 'import { x } from "../store/index.js";', /layer 0 may not import layer 2/],
    ["imap/commands/fetch.ts", 'import type { Y } from "../../pop3/pop3-session.js";', /protocols never import each other/],
    ["pop3/pop3-session.ts", 'import { SqliteStore } from "../store/sqlite/sqlite-store.js";', /import only store\/index.ts/],
    ["imap/imap-server.ts", 'import Database from "better-sqlite3";', /only store\/sqlite\/ may import/],
    ["smtp/protocol/command.ts", 'import { connect } from "node:net";', /is pure/],
    ["auth/authenticator.ts", 'const m = await import("../smtp/smtp-server.js");', /layer 3 may not import layer 4/],
  ];
  for (const [from, text, complaint] of cases) {
    const found = violationsIn(root, from, text);
    assert.equal(found.length, 1, `${from}: ${text}`);
    assert.match(found[0]!, complaint);
  }
  assert.deepEqual(violationsIn(root, "server/compose.ts", 'import { openSqliteStore } from "../store/sqlite/index.js";'), []);
  assert.throws(() => concernOf("nowhere/x.ts"));
});
