// RFC 4978 COMPRESS: DEFLATE is the only mechanism (anything else is BAD, §3); a second COMPRESS
// is NO [COMPRESSIONACTIVE]. The session answers OK uncompressed and then switches the transport
// (session/deflate-transport.ts, which also bounds what one compressed read may expand to).
import { ImapError, type ImapCommand } from "./command.js";

export const compressCommand: ImapCommand<string> = {
  names: ["COMPRESS"],
  uid: false,
  // RFC 4978 §3: after authentication, so that the credentials never share a dictionary with
  // data an attacker may choose.
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["COMPRESS=DEFLATE"],
  parse: (args) => {
    const mechanism = args.atom().toUpperCase();
    args.end();
    return mechanism;
  },
  run: async (ctx, mechanism) => {
    if (mechanism !== "DEFLATE") throw ImapError.bad(null, `unknown compression mechanism ${mechanism.slice(0, 40)}`);
    await ctx.session.compress(ctx.tag);
  },
};
