import { test } from "node:test";
import assert from "node:assert/strict";
import { hostnameWarning, isFullyQualified, machineHostname, type HostNameResolver } from "./host-name.js";

/** A resolver from tables, like /etc/hosts: name → addresses, address → first name. */
function table(forward: Record<string, string[]>, reverse: Record<string, string>): HostNameResolver {
  return {
    addresses: async (name) => {
      const found = forward[name];
      if (found === undefined) throw Object.assign(new Error(`${name} not found`), { code: "ENOTFOUND" });
      return found;
    },
    nameOf: async (address) => {
      const found = reverse[address];
      if (found === undefined) throw Object.assign(new Error(`${address} not found`), { code: "ENOTFOUND" });
      return found;
    },
  };
}

test("the default host name is the FQDN when the resolver knows it, as hostname -f", async () => {
  // Debian's /etc/hosts: "127.0.1.1 vm.example.org vm".
  assert.equal(await machineHostname(table({ vm: ["127.0.1.1"] }, { "127.0.1.1": "vm.example.org" }), "vm"), "vm.example.org");
  // An address that maps to another name (or to localhost) is not taken.
  assert.equal(await machineHostname(table({ vm: ["127.0.0.1", "192.0.2.7"] }, { "127.0.0.1": "localhost", "192.0.2.7": "web.example.org" }), "vm"), "vm");
  assert.equal(await machineHostname(table({ vm: ["192.0.2.7", "192.0.2.8"] }, { "192.0.2.8": "vm.example.org." }), "vm"), "vm.example.org");
  assert.equal(await machineHostname(table({}, {}), "vm"), "vm", "nothing known: the short name");
  assert.equal(await machineHostname(table({}, {}), "mail.example.org"), "mail.example.org", "a dotted name is used as it is");
});

test("isFullyQualified: dotted names, not addresses, not localhost or .local", () => {
  for (const name of ["mx.example.org", "mx.example.org.", "a-b.c"]) assert.equal(isFullyQualified(name), true, name);
  for (const name of ["vm", "192.0.2.1", "::1", "localhost", "vm.localdomain", "printer.local", "bad_name.example", ""]) assert.equal(isFullyQualified(name), false, name);
});

test("hostnameWarning: none for a resolvable FQDN; says why otherwise", async () => {
  const resolver = table({ "mx.example.org": ["192.0.2.25"] }, {});
  assert.equal(await hostnameWarning("mx.example.org", resolver), null);
  assert.match((await hostnameWarning("vm", resolver)) ?? "", /not a fully qualified domain name/);
  assert.match((await hostnameWarning("mx.nowhere.test", resolver)) ?? "", /does not resolve \(ENOTFOUND\)/);
});
