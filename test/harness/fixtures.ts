// Locates the repository's test fixtures from any test file, whether it runs from src/ under tsx
// or compiled from dist/src/: walk up from the caller's URL to the folder holding package.json.

import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the nearest ancestor of `fromUrl` that contains package.json. */
export function findRepositoryRoot(fromUrl: string): string {
  let dir = dirname(fileURLToPath(fromUrl));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fromUrl}`);
    dir = parent;
  }
}

/** Absolute path of test/fixtures/messages. */
export function messageFixturesDir(fromUrl: string): string {
  return join(findRepositoryRoot(fromUrl), "test", "fixtures", "messages");
}

/** The raw octets of one .eml fixture. */
export async function readMessageFixture(fromUrl: string, name: string): Promise<Buffer> {
  return readFile(join(messageFixturesDir(fromUrl), name));
}

/** Every .eml fixture, by file name, sorted. */
export async function readAllMessageFixtures(fromUrl: string): Promise<Map<string, Buffer>> {
  const dir = messageFixturesDir(fromUrl);
  const names = (await readdir(dir)).filter((n) => n.endsWith(".eml")).sort();
  const all = new Map<string, Buffer>();
  for (const name of names) all.set(name, await readFile(join(dir, name)));
  return all;
}
