// A MailStore that tells the spam trainer about copies and moves into and out of Junk. Everything
// else passes straight through to the real store; the copy or move itself is unchanged and its
// answer is returned before any training happens.
import type { Mailbox, MailboxId, MailStore, UidMapping } from "../store/index.js";
import type { SpamTrainer } from "./trainer.js";

function trainingKind(from: Mailbox, to: Mailbox): "spam" | "ham" | null {
  const isJunk = (m: Mailbox) => m.specialUse === "\\Junk";
  if (isJunk(to) && !isJunk(from)) return "spam";
  // Deleting junk (a move to Trash) says nothing about it being ham.
  if (isJunk(from) && !isJunk(to) && to.specialUse !== "\\Trash") return "ham";
  return null;
}

export function withSpamTraining(mail: MailStore, trainer: SpamTrainer): MailStore {
  const observe = async (sourceId: MailboxId, destinationId: MailboxId, mapping: UidMapping): Promise<void> => {
    if (mapping.pairs.length === 0) return;
    try {
      const [from, to] = await Promise.all([mail.getMailboxById(sourceId), mail.getMailboxById(destinationId)]);
      if (!from || !to) return;
      const kind = trainingKind(from, to);
      if (kind !== null) trainer.enqueue({ accountId: to.accountId, mailboxId: to.id, uids: mapping.pairs.map((p) => p[1]), kind });
    } catch {
      // The copy or move is done and answered as such; not training it is the only loss.
    }
  };
  const copyMessages: MailStore["copyMessages"] = async (source, uids, destination) => {
    const mapping = await mail.copyMessages(source, uids, destination);
    await observe(source, destination, mapping);
    return mapping;
  };
  const moveMessages: MailStore["moveMessages"] = async (source, uids, destination) => {
    const mapping = await mail.moveMessages(source, uids, destination);
    await observe(source, destination, mapping);
    return mapping;
  };
  // A Proxy rather than a copy of the methods: the store is a class instance whose methods must
  // run with `this` bound to it, and new MailStore methods pass through without a change here.
  // Bound once per method, not on every access: IMAP sessions call the store on every command.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(mail, {
    get(target, property) {
      if (property === "copyMessages") return copyMessages;
      if (property === "moveMessages") return moveMessages;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      let method = bound.get(property);
      if (method === undefined) bound.set(property, (method = (value as (...args: unknown[]) => unknown).bind(target)));
      return method;
    },
  });
}
