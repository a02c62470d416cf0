// THREAD and UID THREAD (RFC 5256 §3, §4): ORDEREDSUBJECT and REFERENCES over the messages the
// SEARCH criteria match (sort/sort-run.ts), with Message-ID, In-Reply-To and References from the
// store (MailStore.getSortFacts), never from message files. The algorithms (sort/thread.ts) are
// iterative, so a 50,000-message reply chain neither overflows a stack nor nests the encoder.
import type { ArgumentReader } from "../protocol/arguments.js";
import { ImapParseError } from "../protocol/parse-error.js";
import { atom, encoded } from "../protocol/response-value.js";
import type { SearchKey, SearchLimits } from "../protocol/search-key.js";
import type { SequenceSet } from "../protocol/sequence-set.js";
import { baseSubject } from "../sort/base-subject.js";
import { sentTime } from "../sort/sort-keys.js";
import { forEachMatch, parseCharsetAndCriteria } from "../sort/sort-run.js";
import { orderedSubjectThreads, referencesThreads, renderThreads, type ThreadMessage } from "../sort/thread.js";
import type { ImapCommand } from "./command.js";
import { refuseSequenceKeys } from "./uid-only.js";

export type ThreadAlgorithm = "ORDEREDSUBJECT" | "REFERENCES";

export interface ThreadArgs {
  algorithm: ThreadAlgorithm;
  key: SearchKey<SequenceSet>;
}

/** thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria (RFC 5256 §5). */
export function parseThreadArgs(args: ArgumentReader, limits?: SearchLimits): ThreadArgs {
  const name = args.atom().toUpperCase();
  if (name !== "ORDEREDSUBJECT" && name !== "REFERENCES") throw new ImapParseError(`unknown threading algorithm ${name.slice(0, 40)}`);
  args.space();
  return { algorithm: name, key: parseCharsetAndCriteria(args, limits).key };
}

export const threadCommand: ImapCommand<ThreadArgs> = {
  names: ["THREAD"],
  uid: true,
  states: ["selected"],
  sequenceUse: "uses",
  holdsExpunges: true,
  capabilities: ["THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"],
  parse: (args, ctx) => {
    const parsed = parseThreadArgs(args, ctx.searchLimits);
    refuseSequenceKeys(parsed.key, ctx);
    return parsed;
  },
  run: async (ctx, args) => {
    const messages: ThreadMessage[] = [];
    const references = args.algorithm === "REFERENCES";
    await forEachMatch(ctx, args.key, references, (m) => {
      const subject = baseSubject(m.facts.envelope.subject);
      messages.push({
        number: ctx.byUid ? m.uid : m.seq,
        seq: m.seq,
        sent: sentTime(m.facts),
        subject: subject.key,
        isReply: subject.isReplyOrForward,
        messageId: m.facts.envelope.messageId,
        inReplyTo: m.facts.envelope.inReplyTo,
        references: m.facts.references,
      });
    });
    const roots = references ? referencesThreads(messages) : orderedSubjectThreads(messages);
    const text = renderThreads(roots, messages);
    await ctx.untagged(...(text === "" ? [atom("THREAD")] : [atom("THREAD"), encoded(text)]));
  },
};
