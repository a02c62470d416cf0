// The configuration written out for people: a commented TOML file with every key at its default
// (what `mailroom init` writes), and the key reference table for the README. Both are generated from
// the same specs the loader validates against, so the documentation cannot drift from the code.

import { snakeCase } from "./load.js";
import { defaultListeners, LISTENER_KEY_DESCRIPTIONS, SECTION_SPECS } from "./schema.js";
import type { KeySpec } from "./value-kinds.js";

export interface ConfigKeyDescription {
  /** Dotted TOML path, e.g. "limits.max_message_size" or "listeners[].port". */
  key: string;
  /** The default as TOML text, or a phrase when it is computed. */
  default: string;
  description: string;
}

function renderDefault(spec: KeySpec<unknown, unknown>): string | null {
  if (spec.computedDefault !== undefined) return null;
  const value = spec.defaultValue({ cwd: ".", hostname: "localhost" }, {});
  return value === null ? null : spec.kind.render(value);
}

export function describeConfigKeys(): ConfigKeyDescription[] {
  const keys: ConfigKeyDescription[] = [];
  for (const [section, spec] of Object.entries(SECTION_SPECS)) {
    for (const [field, keySpec] of Object.entries(spec) as [string, KeySpec<unknown, unknown>][]) {
      keys.push({
        key: `${section}.${snakeCase(field)}`,
        default: keySpec.computedDefault ?? renderDefault(keySpec) ?? "(not set)",
        description: keySpec.description,
      });
    }
  }
  keys.push({
    key: "listeners",
    default: defaultListeners().map((l) => `${l.protocol} ${l.port} ${l.tls}`).join(", "),
    description: "ports to serve, as [[listeners]] tables; giving any replaces the whole default set",
  });
  for (const [field, described] of Object.entries(LISTENER_KEY_DESCRIPTIONS)) {
    keys.push({ key: `listeners[].${snakeCase(field)}`, default: described.default, description: described.description });
  }
  return keys;
}

/** A commented TOML file with every key; loading it gives exactly the defaults. */
export function renderDefaultConfig(): string {
  const lines: string[] = [
    "# Mailroom configuration. Every key is shown at its default; delete what you do not change.",
    "# Sizes: a number of bytes or \"10K\", \"25M\", \"1G\". Durations: seconds or \"500ms\", \"30s\", \"5m\", \"1h\".",
    "# Environment: MAILROOM_CONFIG names this file, MAILROOM_DATA_DIR overrides server.data_dir.",
  ];
  for (const [section, spec] of Object.entries(SECTION_SPECS)) {
    lines.push("", `[${section}]`);
    for (const [field, keySpec] of Object.entries(spec) as [string, KeySpec<unknown, unknown>][]) {
      const name = snakeCase(field);
      lines.push(`# ${keySpec.description}`);
      const rendered = renderDefault(keySpec);
      if (keySpec.computedDefault !== undefined) lines.push(`# ${name} = ... (default: ${keySpec.computedDefault})`);
      else if (rendered === null) lines.push(`# ${name} = ... (default: not set)`);
      else lines.push(`${name} = ${rendered}`);
    }
  }
  lines.push("", "# Ports to serve. Giving any [[listeners]] table replaces this whole default set.");
  for (const [field, described] of Object.entries(LISTENER_KEY_DESCRIPTIONS)) {
    lines.push(`#   ${snakeCase(field)}: ${described.description} (default: ${described.default})`);
  }
  for (const listener of defaultListeners()) {
    lines.push("", "[[listeners]]", `protocol = "${listener.protocol}"`, `port = ${listener.port}`, `address = "${listener.address}"`, `tls = "${listener.tls}"`);
  }
  return lines.join("\n") + "\n";
}
