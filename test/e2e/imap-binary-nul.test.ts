// A message appended with binary content (NUL octets, in a literal8, RFC 3516 §4.3) is stored as
// sent; a non-BINARY FETCH (BODY[...], RFC822, RFC822.TEXT, partials) never carries NUL, which a
// `{n}` literal cannot hold (RFC 9051 §4.3, §9 CHAR8), while BINARY[...] gives the octets back in
// a literal8. Driven with python3 imaplib, raw commands for the literal8 APPEND (imaplib has no
// literal8 of its own) and imaplib's own FETCH parsing for the reading side.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";

const run = promisify(execFile);

const PAYLOAD = Buffer.from([0x00, 0x01, 0x02, 0x4e, 0x55, 0x4c, 0x00, 0x00, 0x68, 0x65, 0x72, 0x65, 0xff, 0x00, 0x0d, 0x0a]);
const MESSAGE = Buffer.concat([
  Buffer.from(
    "From: sender@example.net\r\nTo: alice@example.org\r\nSubject: binary part\r\nMIME-Version: 1.0\r\n" +
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
      "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n",
  ),
  PAYLOAD,
  Buffer.from("\r\n--b--\r\n"),
]);

const SCRIPT = String.raw`
import base64, imaplib, json, os, sys
M = imaplib.IMAP4('127.0.0.1', int(os.environ['PORT']))
M.login('alice@example.org', 'alice-pass')
message = base64.b64decode(os.environ['MESSAGE'])
# Raw APPEND with a synchronising literal8 through imaplib's own connection.
M.send(b'A1 APPEND INBOX ~{%d}\r\n' % len(message))
cont = M.readline()
M.send(message + b'\r\n')
done = M.readline()
M.select('INBOX')
typ, dat = M.fetch('1', '(BODY.PEEK[2] BODY.PEEK[] BODY.PEEK[2]<5.4> BODY.PEEK[TEXT] BINARY.PEEK[2] BINARY.SIZE[2])')
assert typ == 'OK', (typ, dat)
items = {}
tails = []
for entry in dat:
    if isinstance(entry, tuple):
        head = entry[0].decode('latin1')
        name = head.rsplit(' ', 2)[-2].lstrip('(')
        items[name] = {'marker': head.rsplit(' ', 1)[-1], 'data': base64.b64encode(entry[1]).decode()}
    else:
        tails.append(entry.decode('latin1'))
typ, dat = M.fetch('1', '(RFC822)')
items['RFC822'] = {'marker': dat[0][0].decode('latin1').rsplit(' ', 1)[-1], 'data': base64.b64encode(dat[0][1]).decode()}
print(json.dumps({'cont': cont.decode('latin1'), 'done': done.decode('latin1'), 'items': items, 'tails': tails}))
M.logout()
`;

describe("FETCH of a message appended with NUL octets", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness();
  });
  after(async () => harness.stop());

  it("stores it as sent, answers BODY/RFC822 without NUL (0x80 in its place, sizes kept) and BINARY with the octets", async () => {
    const { stdout } = await run("python3", ["-c", SCRIPT], { env: { ...process.env, PORT: String(harness.ports.imap), MESSAGE: MESSAGE.toString("base64") } });
    const result = JSON.parse(stdout.trim()) as { cont: string; done: string; items: Record<string, { marker: string; data: string }>; tails: string[] };
    assert.match(result.cont, /^\+ /);
    assert.match(result.done, /^A1 OK \[APPENDUID/);

    // Stored byte-exact: the store's copy still has its NULs.
    const inbox = await harness.temp.store.getMailbox(harness.accounts.alice.id, "INBOX");
    const [summary] = await harness.temp.store.listMessages(inbox!.id);
    const [stored] = await harness.temp.store.getMessages(inbox!.id, [summary!.uid]);
    const chunks: Buffer[] = [];
    for await (const chunk of harness.temp.store.openMessage(stored!)) chunks.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(chunks), MESSAGE);

    const bytes = (name: string): Buffer => Buffer.from(result.items[name]?.data ?? "", "base64");
    const nulFree = (data: Buffer): Buffer => Buffer.from(data.map((b) => (b === 0 ? 0x80 : b)));
    for (const name of ["BODY[2]", "BODY[]", "BODY[2]<5>", "BODY[TEXT]", "RFC822"]) {
      const item = result.items[name];
      assert.ok(item !== undefined, `${name} missing from ${JSON.stringify(Object.keys(result.items))}`);
      assert.match(item.marker, /^\{\d+\}$/, `${name} is a plain literal`);
      assert.ok(!bytes(name).includes(0), `${name} carries no NUL`);
    }
    assert.deepEqual(bytes("BODY[2]"), nulFree(PAYLOAD));
    assert.deepEqual(bytes("BODY[]"), nulFree(MESSAGE));
    assert.deepEqual(bytes("RFC822"), nulFree(MESSAGE));
    assert.deepEqual(bytes("BODY[2]<5>"), nulFree(PAYLOAD.subarray(5, 9)));
    // BINARY gives the octets back, in a literal8 (RFC 3516 §4.2).
    assert.equal(result.items["BINARY[2]"]?.marker, `~{${PAYLOAD.length}}`);
    assert.deepEqual(bytes("BINARY[2]"), PAYLOAD);
    assert.match(result.tails.join(" "), new RegExp(`BINARY\\.SIZE\\[2\\] ${PAYLOAD.length}`));
  });
});
