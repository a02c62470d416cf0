import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isIPv6Address, parseDomain, parseForwardPath, parseMailbox, parseReversePath, type EnvelopeMailbox } from "./address.js";

function mailbox(result: ReturnType<typeof parseForwardPath>): EnvelopeMailbox {
  assert.equal(result.kind, "mailbox", JSON.stringify(result));
  return result as EnvelopeMailbox;
}

function reason(result: { kind: string; reason?: string }): string | undefined {
  assert.equal(result.kind, "error", JSON.stringify(result));
  return result.reason;
}

test("the null reverse-path and Postmaster", () => {
  assert.deepEqual(parseReversePath("<>"), { kind: "null" });
  assert.equal(parseForwardPath("<>").kind, "error");
  assert.deepEqual(parseForwardPath("<postMaster>"), { kind: "postmaster", localPart: "postMaster", route: [] });
  assert.equal(parseReversePath("<Postmaster>").kind, "error");
  assert.equal(mailbox(parseForwardPath("<Postmaster@Example.ORG>")).address, "Postmaster@example.org");
});

test("an ordinary path: domain lower-cased, local part case kept", () => {
  const m = mailbox(parseForwardPath("<John.Doe+tag@Mail.Example.COM>"));
  assert.equal(m.localPart, "John.Doe+tag");
  assert.equal(m.domain, "mail.example.com");
  assert.equal(m.address, "John.Doe+tag@mail.example.com");
  assert.equal(m.quoted, false);
  assert.deepEqual(m.route, []);
  assert.equal(m.hasPercentHack, false);
});

test("quoted local parts are unescaped, and canonicalised to Dot-string when possible", () => {
  const plain = mailbox(parseForwardPath('<"john"@example.org>'));
  assert.equal(plain.address, "john@example.org");
  assert.equal(plain.quoted, true);
  assert.equal(plain.rawLocalPart, '"john"');
  const spaced = mailbox(parseForwardPath('<"john \\"j\\" doe"@example.org>'));
  assert.equal(spaced.localPart, 'john "j" doe');
  assert.equal(spaced.address, '"john \\"j\\" doe"@example.org');
  const routed = mailbox(parseForwardPath('<"victim@elsewhere.example"@ours.example>'));
  assert.equal(routed.hasQuotedRouting, true);
  assert.equal(routed.domain, "ours.example");
  assert.equal(mailbox(parseForwardPath('<"a>b"@c.example>')).localPart, "a>b");
});

test("relay tricks are visible: percent hack, bang path, source route", () => {
  const percent = mailbox(parseForwardPath("<user%other.example@ours.example>"));
  assert.equal(percent.localPart, "user%other.example");
  assert.equal(percent.hasPercentHack, true);
  assert.equal(mailbox(parseForwardPath("<host!user@ours.example>")).hasBangPath, true);
  const routed = mailbox(parseForwardPath("<@Relay1.example,@relay2.example:user@final.example>"));
  assert.deepEqual(routed.route, ["relay1.example", "relay2.example"]);
  assert.equal(routed.address, "user@final.example");
  assert.equal(reason(parseForwardPath("<@relay.example user@final.example>")), "route");
  assert.equal(reason(parseForwardPath("<@relay.example,x:user@final.example>")), "route");
});

test("address literals", () => {
  const v4 = mailbox(parseForwardPath("<postmaster@[192.0.2.001]>"));
  assert.equal(v4.domain, "[192.0.2.1]");
  assert.deepEqual(v4.addressLiteral, { kind: "ipv4", address: "192.0.2.1" });
  const v6 = mailbox(parseForwardPath("<a@[ipv6:2001:DB8::1]>"));
  assert.equal(v6.domain, "[IPv6:2001:db8::1]");
  assert.equal(mailbox(parseForwardPath("<a@[IPv6:::ffff:192.0.2.1]>")).addressLiteral?.kind, "ipv6");
  for (const bad of ["<a@[256.1.1.1]>", "<a@[1.2.3]>", "<a@[IPv6:1:2:3:4:5:6:7:8:9]>", "<a@[x-tag:foo]>", "<a@[1.2.3.4>"]) {
    assert.equal(reason(parseForwardPath(bad)), "address-literal", bad);
  }
});

test("IPv6 grammar of RFC 5321 §4.1.3", () => {
  for (const good of ["::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6::7", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4"]) {
    assert.ok(isIPv6Address(good), good);
  }
  for (const bad of [":", ":::", "1::2::3", "1:2:3:4:5:6:7:8::", "12345::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:1.2.3.4", "g::", ":1::"]) {
    assert.ok(!isIPv6Address(bad), bad);
  }
});

test("domains: LDH labels only, no numeric TLD, IDNA to A-labels", () => {
  for (const bad of ["<a@-x.example>", "<a@x-.example>", "<a@x..example>", "<a@x_y.example>", "<a@example.>", "<a@0x7f.1>", "<a@1.2.3.4>", "<a@xn--zz.example>"]) {
    assert.equal(reason(parseForwardPath(bad)), "domain", bad);
  }
  const idn = parseDomain("Bücher.example", { smtputf8: true });
  assert.equal(idn.kind, "domain");
  if (idn.kind === "domain") {
    assert.equal(idn.ascii, "xn--bcher-kva.example");
    assert.equal(idn.unicode, "bücher.example");
  }
  const alabel = parseDomain("XN--BCHER-KVA.example");
  assert.equal(alabel.kind === "domain" && alabel.unicode, "bücher.example");
  assert.equal(reason(parseDomain("a".repeat(64) + ".example")), "domain");
});

test("SMTPUTF8: UTF-8 only when the caller says so", () => {
  assert.equal(reason(parseForwardPath("<jöran@example.org>")), "utf8-not-permitted");
  assert.equal(reason(parseForwardPath("<a@bücher.example>")), "utf8-not-permitted");
  const m = mailbox(parseForwardPath("<jöran@Bücher.example>", { smtputf8: true }));
  assert.equal(m.address, "jöran@xn--bcher-kva.example");
  assert.equal(m.unicodeDomain, "bücher.example");
  assert.equal(m.utf8, true);
  assert.equal(mailbox(parseForwardPath('<"ö ö"@x.example>', { smtputf8: true })).localPart, "ö ö");
  assert.equal(reason(parseForwardPath("<a\uD800@x.example>", { smtputf8: true })), "invalid-utf8");
});

test("limits of RFC 5321 §4.5.3.1", () => {
  const local64 = "a".repeat(64);
  assert.equal(mailbox(parseForwardPath(`<${local64}@x.example>`)).localPart, local64);
  assert.equal(reason(parseForwardPath(`<${local64}a@x.example>`)), "local-part-too-long");
  // UTF-8 counts in octets: 33 two-octet characters are 66 octets.
  assert.equal(reason(parseForwardPath(`<${"é".repeat(33)}@x.example>`, { smtputf8: true })), "local-part-too-long");
  const longDomain = Array.from({ length: 5 }, () => "d".repeat(50)).join(".");
  assert.equal(reason(parseForwardPath(`<a@${longDomain}.example>`)), "too-long");
  assert.equal(reason(parseDomain(`${longDomain}.example`)), "domain-too-long");
});

test("malformed paths", () => {
  const cases: Array<[string, string]> = [
    ["a@b.example", "missing-brackets"],
    ["<a@b.example", "missing-brackets"],
    ["<>", "missing-brackets"],
    ["<a.@b.example>", "local-part"],
    ["<.a@b.example>", "local-part"],
    ["<a..b@b.example>", "local-part"],
    ["<a b@b.example>", "local-part"],
    ['<"a@b.example>', "local-part"],
    ['<"a"b@c.example>', "local-part"],
    ['<"a\u0001"@c.example>', "local-part"],
    ["<ab.example>", "domain"],
    ["<a@>", "domain"],
  ];
  for (const [text, expected] of cases) {
    const result = text === "<>" ? parseForwardPath(text) : parseReversePath(text);
    assert.equal(reason(result), text === "<>" ? "domain" : expected, text);
  }
});

test("parseMailbox takes a bare addr-spec", () => {
  assert.equal(parseMailbox("x@y.example").kind, "mailbox");
  assert.equal(parseMailbox("<x@y.example>").kind, "error");
});

test("property: arbitrary text never throws and any accepted address re-parses to itself", () => {
  const alphabet = fc.constantFrom(..."aZ09.@<>\"\\%!:,[]-_ é\u0000\u00ff\uD800IPv6".split(""));
  const text = fc.array(alphabet, { maxLength: 40 }).map((chars) => chars.join(""));
  fc.assert(
    fc.property(text, fc.boolean(), (body, smtputf8) => {
      for (const candidate of [body, `<${body}>`]) {
        const result = parseForwardPath(candidate, { smtputf8 });
        parseReversePath(candidate, { smtputf8 });
        if (result.kind === "mailbox") {
          const again = parseForwardPath(`<${result.address}>`, { smtputf8 });
          assert.equal(again.kind, "mailbox");
          assert.equal(again.kind === "mailbox" && again.address, result.address);
        }
      }
    }),
    { numRuns: 2000 },
  );
});

test("property: generated valid mailboxes are accepted with the domain lower-cased", () => {
  const atom = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]{1,8}$/);
  const label = fc.stringMatching(/^[A-Za-z](?:[A-Za-z0-9-]{0,6}[A-Za-z0-9])?$/);
  fc.assert(
    fc.property(fc.array(atom, { minLength: 1, maxLength: 3 }), fc.array(label, { minLength: 1, maxLength: 4 }), (atoms, labels) => {
      const local = atoms.join(".");
      const domain = labels.join(".");
      const m = mailbox(parseForwardPath(`<${local}@${domain}>`));
      assert.equal(m.address, `${local}@${domain.toLowerCase()}`);
    }),
  );
});
