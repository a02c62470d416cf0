// The public surface of auth/: password hashing, the failure throttle, the Authenticator, and
// the SASL layer the SMTP, IMAP and POP3 front ends share. Front ends import from here only.
export {
  createDummyHash,
  DEFAULT_HASH_PARAMS,
  DEFAULT_MAX_PASSWORD_BYTES,
  hashPassword,
  needsRehash,
  PasswordRejectedError,
  preparePassword,
  verifyPassword,
} from "./password-hash.js";
export type { PasswordHashParams, PasswordPolicy } from "./password-hash.js";
export { AuthThrottle, clientAddressKey, DEFAULT_AUTH_THROTTLE_OPTIONS } from "./auth-throttle.js";
export type { AuthSubject, AuthThrottleOptions, AuthThrottlePolicy, ThrottleVerdict } from "./auth-throttle.js";
export { SharedAuthThrottle } from "./shared-auth-throttle.js";
export { Authenticator, loginCredential } from "./authenticator.js";
export type { AuthContext, AuthenticatorOptions, AuthFailureReason, AuthProtocol, AuthResult, LockoutListener, PasswordAttempt } from "./authenticator.js";
export { DEFAULT_SASL_LIMITS } from "./sasl/mechanism.js";
export { channelBindingsOf } from "./sasl/channel-binding.js";
export type { ChannelBindings, ChannelBindingType, ScramKeyEntry, ScramLookup, ScramServerContext } from "./sasl/scram.js";
export {
  APP_PASSWORD_PROTOCOLS,
  appPasswordSecretHash,
  generateAppPassword,
  passwordHashTag,
  scramKeysFor,
  storeMainScramKeys,
} from "./credentials.js";
export type { AppPasswordProtocol } from "./credentials.js";
export { DEFAULT_SCRAM_ITERATIONS, MAX_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS } from "./scram-keys.js";
export type {
  SaslCredentials,
  SaslFailureReason,
  SaslLimits,
  SaslMechanism,
  SaslMechanismDescriptor,
  SaslPasswordCredentials,
  SaslScramCredentials,
  SaslServerContext,
  ScramFailure,
  SaslStep,
  SaslStepResult,
} from "./sasl/mechanism.js";
export { advertisedMechanisms, createMechanism, findMechanism, mechanismPermitted, SASL_MECHANISMS } from "./sasl/registry.js";
export type { SaslLink } from "./sasl/registry.js";
export { DEFAULT_SASL_EXCHANGE_LIMITS, SaslExchange } from "./sasl/exchange.js";
export type { SaslExchangeLimits, SaslExchangeStep } from "./sasl/exchange.js";
export { decodeInitialResponse, decodeSaslResponse, decodeStrictBase64, encodeSaslChallenge } from "./sasl/wire.js";
export type { SaslClientLine } from "./sasl/wire.js";
