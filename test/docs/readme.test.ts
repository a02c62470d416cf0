// The README's configuration reference must name every key the config file accepts, and its two
// set-up commands must be the ones package.json really provides.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describeConfigKeys } from "../../src/config/index.js";
import { findRepositoryRoot } from "../harness/fixtures.js";

const root = findRepositoryRoot(import.meta.url);
const readme = readFileSync(join(root, "README.md"), "utf8");

test("the README's configuration reference lists every config key", () => {
  const missing = describeConfigKeys()
    .map((k) => k.key)
    .filter((key) => !readme.includes(`\`${key}\``));
  assert.deepEqual(missing, []);
});

test("the README's two commands exist", () => {
  assert.ok(readme.includes("npm install && npm start"));
  assert.ok(readme.includes("npm install && npm test"));
  const scripts = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts as Record<string, string>;
  for (const name of ["start", "test", "build", "lint"]) assert.ok(scripts[name], `package.json has a ${name} script`);
});
