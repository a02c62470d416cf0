// The public surface of the pure SMTP grammar: command parsing, ESMTP parameters, replies and the
// named reply codes. Sessions (smtp/session) and the outbound client (queue/) import only this.
export {
  parseCommand,
  DEFAULT_MAX_LINE_OCTETS,
  AUTH_MAX_LINE_OCTETS,
  type SmtpVerb,
  type SmtpCommand,
  type HelloCommand,
  type MailCommand,
  type RcptCommand,
  type BdatCommand,
  type TextCommand,
  type BareCommand,
  type AuthCommand,
  type SmtpSyntaxError,
  type SmtpSyntaxReason,
  type CommandOptions,
} from "./command.js";
export type {
  MailParameters,
  RcptParameters,
  BodyType,
  AuthParameter,
  Notify,
  OriginalRecipient,
  ParameterError,
  ParameterErrorReason,
} from "./esmtp-parameters.js";
export {
  encodeReply,
  parseReply,
  ReplyParser,
  isEnhancedCodeFor,
  MAX_REPLY_LINE_OCTETS,
  type SmtpReply,
  type ReplySyntaxError,
  type ReplySyntaxReason,
  type ReplyParserOptions,
  type ReplyParseStep,
} from "./reply.js";
export { ReplyCodes, reply, replyForSyntaxError, greetingReply, noServiceReply, ehloReply, heloReply, type ReplyCode, type ReplyName } from "./reply-codes.js";
export { decodeXtext, encodeXtext, decodeUtf8AddrXtext } from "./xtext.js";
