// The public surface of net/: transport shared by all protocols. It knows bytes, not commands.

export { Connection, ConnectionClosedError, TlsHandshakeError, classifyHandshakeError, type ConnectionOptions, type TlsHandshakeFailure, type TlsMode } from "./connection.js";
export { ConnectionLimits, connectionGroup, type Admission, type AdmissionRefusal, type ConnectionLimitSettings } from "./connection-limits.js";
export { LineReader, type FramedInput, type LineEnding, type LineReaderOptions } from "./line-reader.js";
export type { RefusalReason, SessionHandler } from "./session-handler.js";
export { CIPHER_PROFILES, TlsContextProvider, cipherStringOf, type CertificateSummary, type TlsCipherKind, type TlsContextOptions } from "./tls-context.js";
export { systemTimers, type TimerHandle, type Timers } from "./timers.js";
export { SessionDriver, type ByteSession } from "./session-driver.js";
export { createNetworkList, type NetworkList } from "./network-list.js";
export { ProxyHeaderError, parseProxyHeader, readProxyHeader, startsWithProxySignature, type ProxyEndpoint, type ProxyHeader, type ProxyParse } from "./proxy-protocol.js";
export { MAX_CLIENT_HELLO_RECORD, peekClientHello, type ClientHelloPeek } from "./client-hello.js";
export { ALPN_SHARED_LOOKUPS_PER_MINUTE, AcmeChallenges, AcmeManager, renewalTime, type AcmeChallengeType, type AcmeManagerOptions, type AcmeNameStatus, type AcmeSettings } from "./acme.js";
