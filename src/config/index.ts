// The public surface of config/: load and validate the one TOML file, and describe its keys.

export { CONFIG_FILE_NAME, ConfigError, loadConfig, parseConfigText, type LoadConfigOptions, type ParseConfigOptions } from "./load.js";
export { describeConfigKeys, renderDefaultConfig, type ConfigKeyDescription } from "./render.js";
export type { Limits } from "./limits.js";
export type { HostPort } from "./value-kinds.js";
export {
  defaultListeners,
  isImplicitTlsProtocol,
  LISTENER_PROTOCOLS,
  STANDARD_PORTS,
  type AuthSettings,
  type DmarcFailureModeSetting,
  type InboundSettings,
  type Config,
  type ListenerConfig,
  type ListenerProtocol,
  type ListenerTls,
  type LogLevelSetting,
  type ManageSieveSettings,
  type HttpSettings,
  type OutboundSettings,
  type SmarthostTls,
  type Pop3ModeSetting,
  type Pop3Settings,
  type ServerSettings,
  type ShutdownSettings,
  type SpamSettings,
  type AbuseSettings,
  type StoreSettings,
  type TlsSettings,
} from "./schema.js";
export { checkConfigFiles, type ConfigCheckOptions } from "./check.js";
export { hostnameWarning, isFullyQualified, machineHostname, systemHostNameResolver, type HostNameResolver } from "./host-name.js";
