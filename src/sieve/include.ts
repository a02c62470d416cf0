// RFC 6609 include: before a script runs, every script it may include is loaded and compiled,
// and so on down (a name is a constant, so the graph is known in advance). A circular include is
// an error here, whether or not the run would reach it (as Pigeonhole finds it at compile time),
// and so is a missing script without :optional; the caller turns either into the implicit keep.
// Nesting deeper than sieve.max_include_depth is refused too.
import type { CompiledNode, CompiledScript } from "./compile.js";
import { SieveRuntimeError } from "./errors.js";

export type ScriptLocation = "personal" | "global";

/** Loads and compiles one script; null when it does not exist (or its location is unavailable). */
export type IncludeLoader = (location: ScriptLocation, name: string) => Promise<CompiledScript | null>;

interface IncludeRef {
  readonly key: string;
  readonly location: ScriptLocation;
  readonly name: string;
  readonly optional: boolean;
}

function includesOf(nodes: readonly CompiledNode[], out: IncludeRef[] = []): IncludeRef[] {
  for (const node of nodes) {
    if (node.name === "include") {
      const location: ScriptLocation = node.tags.has(":global") ? "global" : "personal";
      const name = node.positional[0] as string;
      out.push({ key: `${location}:${name}`, location, name, optional: node.tags.has(":optional") });
    }
    if (node.block) includesOf(node.block, out);
  }
  return out;
}

/** The scripts `main` may include, transitively, by "location:name"; throws on a loop, a missing script or too much depth. */
export async function resolveIncludes(main: CompiledScript, load: IncludeLoader, maxDepth: number, mainKey: string | null = null): Promise<Map<string, CompiledScript>> {
  const resolved = new Map<string, CompiledScript>();
  const missing = new Set<string>();
  const visit = async (script: CompiledScript, stack: string[]): Promise<void> => {
    for (const ref of includesOf(script.commands)) {
      if (stack.includes(ref.key)) throw new SieveRuntimeError("runtime", `circular include of "${ref.name}"`);
      if (stack.length >= maxDepth) throw new SieveRuntimeError("limit", `includes nested deeper than ${maxDepth} (sieve.max_include_depth)`);
      let child = resolved.get(ref.key);
      if (child === undefined && !missing.has(ref.key)) {
        const loaded = await load(ref.location, ref.name);
        if (loaded === null) missing.add(ref.key);
        else {
          child = loaded;
          resolved.set(ref.key, loaded);
        }
      }
      if (child === undefined) {
        if (ref.optional) continue;
        throw new SieveRuntimeError("runtime", `included ${ref.location} script "${ref.name}" does not exist`);
      }
      await visit(child, [...stack, ref.key]);
    }
  };
  await visit(main, mainKey === null ? [] : [mainKey]);
  return resolved;
}
