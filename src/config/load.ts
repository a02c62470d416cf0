// Reads the one TOML configuration file (or none), applies environment overrides, validates every
// key and returns a deeply frozen Config. All problems are collected and reported together, one line
// each, naming the key and what is wrong; unknown keys are problems too, so a typo is never ignored.

import { readFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { isIP } from "node:net";
import { isAbsolute, resolve } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import {
  defaultListeners,
  isImplicitTlsProtocol,
  LISTENER_PROTOCOLS,
  SECTION_SPECS,
  STANDARD_PORTS,
  type Config,
  type ListenerConfig,
  type ListenerProtocol,
  type ListenerTls,
  type SectionName,
} from "./schema.js";
import { machineHostname } from "./host-name.js";
import { boolean, describeRaw, integer, oneOf, text, ValueProblem, type DefaultContext, type SectionSpec } from "./value-kinds.js";

/** Looked for in the working directory when no file is named. */
export const CONFIG_FILE_NAME = "mailroom.toml";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** One line per problem, each starting with "config error: ". */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join("\n"));
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  /** A named file must exist; it wins over MAILROOM_CONFIG. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Finds the default server.hostname when the file sets none; machineHostname() by default. */
  machineHostname?: () => Promise<string>;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const named = options.path ?? nonEmpty(env["MAILROOM_CONFIG"]);
  const file = resolve(cwd, named ?? CONFIG_FILE_NAME);
  let source: string;
  try {
    source = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && named === undefined) return parseConfigText("", { cwd, env, file: null, hostname: await (options.machineHostname ?? machineHostname)() });
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : `cannot be read (${code ?? String(error)})`;
    throw new ConfigError([`config error: ${file}: ${why}`]);
  }
  // The machine's FQDN needs a lookup (host-name.ts): only when the file does not name the host.
  const hostname = setsHostname(source) ? undefined : await (options.machineHostname ?? machineHostname)();
  return parseConfigText(source, { cwd, env, file, ...(hostname !== undefined ? { hostname } : {}) });
}

function setsHostname(source: string): boolean {
  try {
    const server = parseToml(source)["server"];
    return isTable(server) && server["hostname"] !== undefined;
  } catch {
    // parseConfigText reports the syntax error.
    return true;
  }
}

export interface ParseConfigOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Named in syntax errors and kept as Config.sourceFile. */
  file?: string | null;
  /** Overrides os.hostname() as the default server.hostname (loadConfig passes the FQDN, host-name.ts). */
  hostname?: string;
}

/** Validates TOML text into a frozen Config; throws ConfigError listing every problem. */
export function parseConfigText(source: string, options: ParseConfigOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const file = options.file ?? null;
  let document: Record<string, unknown>;
  try {
    document = parseToml(source);
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = (error.message.split("\n")[0] ?? "").replace(/^Invalid TOML document:\s*/, "");
      throw new ConfigError([`config error: ${file ?? "config"} line ${error.line}: ${reason}`]);
    }
    throw error;
  }
  const problems: string[] = [];
  const context: DefaultContext = { cwd, hostname: options.hostname ?? osHostname() };
  const config = buildConfig(document, context, problems);
  config.sourceFile = file;
  applyEnvironment(config, env, cwd, problems);
  checkAcrossKeys(config, problems);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `config error: ${p}`));
  return deepFreeze(config);
}

function buildConfig(document: Record<string, unknown>, context: DefaultContext, problems: string[]): Config {
  for (const name of Object.keys(document)) {
    if (name === "listeners" || name in SECTION_SPECS) continue;
    problems.push(`${name}: unknown ${isTable(document[name]) ? "section" : "key"}${suggest(name, [...Object.keys(SECTION_SPECS), "listeners"], true)}`);
  }
  const section = <S>(name: SectionName, spec: SectionSpec<S>): S => readSection(name, spec, document[name], context, problems);
  const server = section("server", SECTION_SPECS.server);
  const tls = section("tls", SECTION_SPECS.tls);
  server.dataDir = resolve(context.cwd, server.dataDir);
  if (tls.certFile !== null) tls.certFile = resolve(context.cwd, tls.certFile);
  if (tls.keyFile !== null) tls.keyFile = resolve(context.cwd, tls.keyFile);
  const outbound = section("outbound", SECTION_SPECS.outbound);
  if (outbound.smarthostPasswordFile !== null) outbound.smarthostPasswordFile = resolve(context.cwd, outbound.smarthostPasswordFile);
  if (outbound.dkimKeyDir !== null) outbound.dkimKeyDir = resolve(context.cwd, outbound.dkimKeyDir);
  return {
    sourceFile: null,
    server,
    listeners: readListeners(document["listeners"], problems),
    tls,
    limits: section("limits", SECTION_SPECS.limits),
    auth: section("auth", SECTION_SPECS.auth),
    inbound: section("inbound", SECTION_SPECS.inbound),
    pop3: section("pop3", SECTION_SPECS.pop3),
    imap: section("imap", SECTION_SPECS.imap),
    store: section("store", SECTION_SPECS.store),
    shutdown: section("shutdown", SECTION_SPECS.shutdown),
    outbound,
    http: section("http", SECTION_SPECS.http),
    sieve: section("sieve", SECTION_SPECS.sieve),
    spam: section("spam", SECTION_SPECS.spam),
    abuse: section("abuse", SECTION_SPECS.abuse),
    acme: section("acme", SECTION_SPECS.acme),
    managesieve: section("managesieve", SECTION_SPECS.managesieve),
    quota: section("quota", SECTION_SPECS.quota),
  };
}

export function snakeCase(camel: string): string {
  return camel.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function readSection<S>(name: string, spec: SectionSpec<S>, raw: unknown, context: DefaultContext, problems: string[]): S {
  let table: Record<string, unknown> = {};
  if (raw !== undefined && !isTable(raw)) problems.push(`${name}: expected a table, got ${describeRaw(raw)}`);
  else if (raw !== undefined) table = raw as Record<string, unknown>;
  const fields = Object.keys(spec) as (keyof S & string)[];
  const snakeNames = fields.map(snakeCase);
  for (const given of Object.keys(table)) {
    if (!snakeNames.includes(given)) problems.push(`${name}.${given}: unknown key${suggest(given, snakeNames, false) || misplaced(given, name)}`);
  }
  const result: Partial<S> = {};
  for (const field of fields) {
    const keySpec = spec[field];
    const snake = snakeCase(field);
    const value = table[snake];
    if (value !== undefined) {
      try {
        result[field] = keySpec.kind.parse(value);
        continue;
      } catch (error) {
        if (!(error instanceof ValueProblem)) throw error;
        problems.push(`${name}.${snake}: ${error.message}`);
      }
    }
    result[field] = keySpec.defaultValue(context, result);
  }
  return result as S;
}

const protocolKind = oneOf(LISTENER_PROTOCOLS);
const tlsKind = oneOf(["none", "starttls", "implicit"] as const);
const portKind = integer({ min: 0, max: 65_535 });
const addressKind = text();
const proxyProtocolKind = boolean();
const LISTENER_KEYS = ["protocol", "port", "address", "tls", "proxy_protocol"];

function readListeners(raw: unknown, problems: string[]): ListenerConfig[] {
  if (raw === undefined) return defaultListeners();
  if (!Array.isArray(raw)) {
    problems.push(`listeners: expected an array of tables ([[listeners]]), got ${describeRaw(raw)}`);
    return defaultListeners();
  }
  const listeners: ListenerConfig[] = [];
  const boundBy = new Map<string, string>();
  raw.forEach((item: unknown, index) => {
    const at = `listeners[${index}]`;
    if (!isTable(item)) {
      problems.push(`${at}: expected a table, got ${describeRaw(item)}`);
      return;
    }
    for (const given of Object.keys(item)) {
      if (!LISTENER_KEYS.includes(given)) problems.push(`${at}.${given}: unknown key${suggest(given, LISTENER_KEYS, false)}`);
    }
    const field = <T>(name: string, parse: (value: unknown) => T, fallback: T): T => {
      if (item[name] === undefined) return fallback;
      try {
        return parse(item[name]);
      } catch (error) {
        if (!(error instanceof ValueProblem)) throw error;
        problems.push(`${at}.${name}: ${error.message}`);
        return fallback;
      }
    };
    if (item["protocol"] === undefined) {
      problems.push(`${at}.protocol: missing; expected ${protocolKind.expected}`);
      return;
    }
    const protocol = field<ListenerProtocol | null>("protocol", (v) => protocolKind.parse(v), null);
    if (protocol === null) return;
    const implicit = isImplicitTlsProtocol(protocol);
    const listener: ListenerConfig = {
      protocol,
      port: field("port", (v) => portKind.parse(v), STANDARD_PORTS[protocol]),
      address: field("address", (v) => addressKind.parse(v), "::"),
      tls: field<ListenerTls>("tls", (v) => tlsKind.parse(v), implicit ? "implicit" : "starttls"),
    };
    if (item["proxy_protocol"] !== undefined) listener.proxyProtocol = field("proxy_protocol", (v) => proxyProtocolKind.parse(v), true);
    // RFC 8314 §3: the "s" ports speak TLS from the first byte; the others start in plaintext.
    if (implicit && listener.tls !== "implicit") problems.push(`${at}.tls: ${protocol} is implicit TLS; expected "implicit", got "${listener.tls}"`);
    if (!implicit && listener.tls === "implicit") problems.push(`${at}.tls: ${protocol} starts in plaintext; expected "none" or "starttls", got "implicit" (use ${protocol === "smtp" ? "submissions" : `${protocol}s`} for implicit TLS)`);
    const endpoint = listener.address.includes(":") ? `[${listener.address}]:${listener.port}` : `${listener.address}:${listener.port}`;
    const earlier = boundBy.get(endpoint);
    if (listener.port !== 0 && earlier !== undefined) problems.push(`${at}: ${endpoint} is already used by ${earlier}`);
    boundBy.set(endpoint, at);
    listeners.push(listener);
  });
  return listeners;
}

function applyEnvironment(config: Config, env: NodeJS.ProcessEnv, cwd: string, problems: string[]): void {
  const dataDir = nonEmpty(env["MAILROOM_DATA_DIR"]);
  if (dataDir !== undefined) config.server.dataDir = isAbsolute(dataDir) ? dataDir : resolve(cwd, dataDir);
  // `npm start` opts into moving refused ports with this; `mailroom serve` alone never moves them.
  const offset = nonEmpty(env["MAILROOM_PORT_FALLBACK_OFFSET"]);
  if (offset !== undefined) {
    if (/^\d{1,5}$/.test(offset.trim()) && Number(offset) <= 65_535) config.server.portFallbackOffset = Number(offset);
    else problems.push(`MAILROOM_PORT_FALLBACK_OFFSET: expected a number of ports from 0 to 65535, got ${JSON.stringify(offset)}`);
  }
}

function checkAcrossKeys(config: Config, problems: string[]): void {
  const { certFile, keyFile } = config.tls;
  if (certFile !== null && keyFile === null) problems.push("tls.key_file: required when tls.cert_file is set");
  if (keyFile !== null && certFile === null) problems.push("tls.cert_file: required when tls.key_file is set");
  // server/privileges.ts: the server never keeps running as root.
  if (config.server.user !== null && (config.server.user === "root" || !/^[a-z_][a-z0-9_-]{0,31}\$?$/i.test(config.server.user))) {
    problems.push(`server.user: expected an unprivileged user name, got ${JSON.stringify(config.server.user)}`);
  }
  if (config.auth.throttleBaseDelay > config.auth.throttleMaxDelay) {
    problems.push("auth.throttle_base_delay: must not exceed auth.throttle_max_delay");
  }
  const { store } = config;
  if (store.backend === "postgresql" && store.url === null) problems.push('store.url: required when store.backend = "postgresql"');
  if (store.url !== null && !/^postgres(ql)?:\/\//.test(store.url)) problems.push(`store.url: expected a postgres:// or postgresql:// URL, got ${JSON.stringify(store.url.replace(/:[^:@/]*@/, ":***@"))}`);
  if (store.passwordEnv !== null && store.passwordFile !== null) problems.push("store.password_env: set either store.password_env or store.password_file, not both");
  const { outbound } = config;
  if ((outbound.smarthostUsername === null) !== (outbound.smarthostPasswordFile === null)) {
    problems.push(`outbound.${outbound.smarthostUsername === null ? "smarthost_username" : "smarthost_password_file"}: required when the other smarthost AUTH key is set`);
  }
  if (outbound.smarthostUsername !== null && outbound.smarthost === null) problems.push("outbound.smarthost: required when outbound.smarthost_username is set");
  if (outbound.delayWarning >= outbound.maxLifetime) problems.push("outbound.delay_warning: must be shorter than outbound.max_lifetime");
  // A lease shorter than one attempt could let a second node deliver a message still in flight.
  if (outbound.lease !== 0 && outbound.lease <= outbound.connectTimeout + 4 * outbound.commandTimeout) problems.push("outbound.lease: must exceed outbound.connect_timeout + 4 × outbound.command_timeout");
  for (const [index, server] of outbound.dnsServers.entries()) {
    if (!isDnsServer(server)) {
      problems.push(`outbound.dns_servers[${index}]: expected an IP address or "ip:port", got ${JSON.stringify(server)}`);
    }
  }
  if (outbound.dnssecResolver !== null && !isDnsServer(outbound.dnssecResolver)) {
    problems.push(`outbound.dnssec_resolver: expected an IP address or "ip:port", got ${JSON.stringify(outbound.dnssecResolver)}`);
  }
}

/**
 * A DNS server as node's resolver takes it (dns.setServers): "192.0.2.1", "192.0.2.1:5353",
 * "2001:db8::1" or "[2001:db8::1]:5353"; a port must be 1-65535. A name is refused: finding the
 * DNS server must not need DNS.
 */
export function isDnsServer(server: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(server);
  const v4 = /^([\d.]+)(?::(\d{1,5}))?$/.exec(server);
  const [address, port] = bracketed ? [bracketed[1]!, bracketed[2]] : v4 ? [v4[1]!, v4[2]] : [server, undefined];
  const family = isIP(address);
  if (family === 0 || (bracketed && family !== 6)) return false;
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65_535);
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** " (did you mean x?)" for a near miss, else "". */
function suggest(given: string, candidates: readonly string[], quoteSection: boolean): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(given.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === null || bestDistance > Math.max(2, Math.floor(best.length / 4))) {
    if (quoteSection) return misplaced(given, null);
    return "";
  }
  return ` (did you mean ${best}?)`;
}

/** " (it belongs in [limits])" when the key exists in another section. */
function misplaced(given: string, currentSection: string | null): string {
  for (const [section, spec] of Object.entries(SECTION_SPECS)) {
    if (section === currentSection) continue;
    if (Object.keys(spec).map(snakeCase).includes(given)) return ` (it belongs in [${section}])`;
  }
  return "";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
