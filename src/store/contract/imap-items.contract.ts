// Conformance of MailStore.getImapItems: per message the light index plus ENVELOPE and
// BODYSTRUCTURE exactly as rendering getMessages()' envelope and structure gives them
// (store/imap-items.ts), the UTF-8 form only differing where a parameter is non-ASCII; UIDs that
// no longer exist are absent; sparse and consecutive UID lists alike.
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeImapItems } from "../imap-items.js";
import type { Uid } from "../index.js";
import { using, type OpenBackend } from "./fixture.js";

const MULTIPART = Buffer.from(
  [
    'Subject: =?UTF-8?Q?caf=C3=A9?= "quoted" \\ back',
    "From: Zoë <zoe@example.org>, group: a@example.org;",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="b"',
    "",
    "--b",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "hello",
    "--b",
    "Content-Type: application/pdf; name*=utf-8''r%C3%A9sum%C3%A9.pdf",
    "Content-Disposition: attachment",
    "Content-Transfer-Encoding: base64",
    "",
    "JVBERi0xLjQK",
    "--b--",
    "",
  ].join("\r\n"),
);

export function imapItemsContract(open: OpenBackend): void {
  test("getImapItems: the encoded ENVELOPE and BODYSTRUCTURE of the stored envelope and structure", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const copies = [];
    for (let i = 0; i < 6; i++) copies.push(await fx.append(inbox.id, i % 2 === 0 ? ["\\Seen"] : [], i === 3 ? MULTIPART : undefined));
    const prefixed = await fx.mail.deliver({ source: MULTIPART, targets: [{ mailboxId: inbox.id, prefix: Buffer.from("Received: from x by y\r\n") }] });
    await fx.mail.removeMessages(inbox.id, [copies[1]!.uid]);
    const all = [...copies.map((c) => c.uid), prefixed.copies[0]!.uid];
    for (const uids of [all, [all[5]!, all[0]!].sort((a, b) => a - b), [all[3]!, all[6]!]] as Uid[][]) {
      const items = await fx.mail.getImapItems(inbox.id, uids);
      const stored = await fx.mail.getMessages(inbox.id, uids);
      const summaries = await fx.mail.getSummaries(inbox.id, uids);
      assert.deepEqual(items.map((m) => m.uid), stored.map((m) => m.uid), "existing UIDs, ascending");
      items.forEach((item, i) => {
        const expected = encodeImapItems(stored[i]!.envelope, stored[i]!.structure);
        const { uid, modseq, flags, internalDate, size } = item;
        assert.deepEqual({ uid, modseq, flags, internalDate, size }, summaries[i]);
        assert.equal(item.envelope, expected.envelope);
        assert.equal(item.bodyStructure, expected.bodyStructure);
        assert.equal(item.bodyStructureUtf8, expected.bodyStructureUtf8 ?? expected.bodyStructure);
      });
    }
    // ImapItemsWanted: the wanted parts are exact, the others may be left empty.
    for (const uids of [all, [all[0]!, all[3]!, all[6]!]] as Uid[][]) {
      const stored = await fx.mail.getMessages(inbox.id, uids);
      const summaries = await fx.mail.getSummaries(inbox.id, uids);
      const envOnly = await fx.mail.getImapItems(inbox.id, uids, { summary: false, envelope: true, bodyStructure: false });
      const bsUtf8 = await fx.mail.getImapItems(inbox.id, uids, { summary: false, envelope: false, bodyStructure: "utf8" });
      const withSummary = await fx.mail.getImapItems(inbox.id, uids, { summary: true, envelope: false, bodyStructure: "ascii" });
      for (const items of [envOnly, bsUtf8, withSummary]) assert.deepEqual(items.map((m) => m.uid), stored.map((m) => m.uid), "existing UIDs, ascending");
      stored.forEach((message, i) => {
        const expected = encodeImapItems(message.envelope, message.structure);
        assert.equal(envOnly[i]!.envelope, expected.envelope);
        assert.equal(bsUtf8[i]!.bodyStructureUtf8, expected.bodyStructureUtf8 ?? expected.bodyStructure);
        assert.equal(withSummary[i]!.bodyStructure, expected.bodyStructure);
        const { uid, modseq, flags, internalDate, size } = withSummary[i]!;
        assert.deepEqual({ uid, modseq, flags, internalDate, size }, summaries[i]);
      });
    }
    const [rich] = await fx.mail.getImapItems(inbox.id, [all[3]!]);
    assert.match(rich!.envelope, /^\(NIL "=\?UTF-8\?Q\?caf=C3=A9\?= \\"quoted\\" \\\\ back" \(\(\{4\}\r\nZoë NIL "zoe" "example.org"\)/, "the raw subject quoted, an 8-bit name as a literal");
    assert.match(rich!.bodyStructure, /"NAME\*" "utf-8''r%C3%A9sum%C3%A9\.pdf"/, "RFC 2231 form for IMAP4rev1");
    assert.match(rich!.bodyStructureUtf8, /"NAME" \{12\}\r\nrésumé\.pdf\)/, "UTF-8 for UTF8=ACCEPT");
    assert.deepEqual(await fx.mail.getImapItems(inbox.id, [copies[1]!.uid]), [], "an expunged message is absent");
  }));
}
