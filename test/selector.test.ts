// Selectors: what each form of the XPath subset matches on a libvirt-like document (elements
// identified by their id attribute), namespace rules, and how bad selectors are reported.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { tokenize } from "../src/xml/tokenizer.ts";
import { evaluate, parseSelector, SelectorError, type DocView } from "../src/xml/selector.ts";
import { patch } from "../src/index.ts";

const DOMAIN = `<domain id="d" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">
  <metadata id="m"><kubevirt id="k" xmlns="http://kubevirt.io"><uid id="u">x</uid></kubevirt></metadata>
  <devices id="devs">
    <interface id="i1" type="ethernet"><alias id="a1" name="ua-default"/><model id="m1" type="virtio"/></interface>
    <interface id="i2" type='vhostuser'><alias id="a2" name="ua-passt"/><mac id="mac2" address="a&amp;b"/></interface>
    <disk id="dk1" device="disk"><name id="n1">root</name></disk>
    <disk id="dk2" device="cdrom"><name id="n2">cd&amp;<![CDATA[rom]]></name></disk>
  </devices>
  <qemu:commandline id="q"><qemu:arg id="qa" value="-x"/></qemu:commandline>
  <q2:commandline id="q2" xmlns:q2="http://libvirt.org/schemas/domain/qemu/1.0"/>
  <other:commandline id="o" xmlns:other="urn:other"/>
</domain>`;

/** A view of a freshly tokenized document: no pending edits. */
function viewOf(text: string): DocView {
  const bytes = new TextEncoder().encode(text);
  const result = tokenize(bytes);
  if (!result.ok) throw new Error(result.error.message);
  const table = result.table;
  return {
    bytes,
    table,
    dead: null,
    attributeOverride: () => undefined,
    textOverride: () => undefined,
    childFragments: () => null,
    contentRange: () => [0, table.count],
  };
}

function ids(selector: string, namespaces: Record<string, string> = {}): string[] {
  const view = viewOf(DOMAIN);
  const text = new TextDecoder().decode(view.bytes);
  return evaluate(parseSelector(selector, namespaces), view).map((m) => {
    const tag = text.slice(view.table.start[m.element], view.table.end[m.element]);
    return /\bid="([^"]+)"/.exec(tag)![1];
  });
}

describe("what selectors match", () => {
  const cases: [string, string, string[], Record<string, string>?][] = [
    ["the root by name", "/domain", ["d"]],
    ["child steps", "/domain/devices/interface", ["i1", "i2"]],
    ["* matches any element", "/domain/devices/*", ["i1", "i2", "dk1", "dk2"]],
    ["// at the start finds descendants at any depth", "//alias", ["a1", "a2"]],
    ["// mid-path", "/domain//name", ["n1", "n2"]],
    ["//* mid-path with a predicate", "/domain/devices//*[@id='n2']", ["n2"]],
    ["a root of another name matches nothing", "/other/devices", []],
    ["[@a] tests that an attribute exists", "/domain/devices/*[@device]", ["dk1", "dk2"]],
    ["[@a='v'] matches a single-quoted value in the document", "/domain/devices/interface[@type='vhostuser']", ["i2"]],
    ['[@a="v"] with double quotes in the selector', '/domain/devices/interface[@type="ethernet"]', ["i1"]],
    ["attribute values compare after references are decoded", "/domain/devices/interface/mac[@address='a&b']", ["mac2"]],
    ["[n] is the position among siblings of that name", "/domain/devices/interface[2]", ["i2"]],
    ["[n] after * counts every sibling element", "/domain/devices/*[3]", ["dk1"]],
    ["[n] counts only siblings that passed earlier predicates", "/domain/devices/disk[@device][2]", ["dk2"]],
    ["[n] under // counts per parent", "//interface[2]/alias", ["a2"]],
    ["a child-value predicate on a child's attribute", "/domain/devices/interface[alias/@name='ua-default']", ["i1"]],
    ["a child-existence predicate", "/domain/devices/interface[model]", ["i1"]],
    ["a child-text predicate decodes references and joins CDATA", "/domain/devices/disk[name='cd&rom']", ["dk2"]],
    ["text() equality", "/domain/devices/disk/name[text()='root']", ["n1"]],
    ["and joins conditions", "/domain/devices/interface[@type='ethernet' and model/@type='virtio']", ["i1"]],
    ["and fails when one condition fails", "/domain/devices/interface[@type='vhostuser' and model]", []],
    ["two predicate groups both apply", "/domain/devices/interface[alias][@type='vhostuser']", ["i2"]],
    ["a prefixed name matches every element whose prefix is bound to the same URI", "/domain/qemu:commandline", ["q", "q2"]],
    ["prefixed names at several steps", "/domain/qemu:commandline/qemu:arg", ["qa"]],
    ["an unprefixed name does not match a prefixed element", "/domain/commandline", []],
    ["an unprefixed name matches an element in a default namespace (libvirt's <kubevirt xmlns=...>)", "/domain/metadata/kubevirt/uid", ["u"]],
    ["a prefix the op binds matches the default namespace by URI", "/domain/metadata/kv:kubevirt", ["k"], { kv: "http://kubevirt.io" }],
    ["a prefix the op binds matches another prefix with that URI", "/domain/x:commandline", ["o"], { x: "urn:other" }],
    ["the op's binding overrides the document's prefix", "/domain/qemu:commandline", ["o"], { qemu: "urn:other" }],
    ["a prefix bound to another URI does not match", "/domain/kv:kubevirt", [], { kv: "http://example.org" }],
  ];
  for (const [name, selector, expected, namespaces] of cases) {
    test(`${name}: ${selector}`, () => assert.deepEqual(ids(selector, namespaces), expected));
  }

  test("the well-known qemu prefix works where the document does not declare it", () => {
    const doc = `<domain><commandline xmlns="http://libvirt.org/schemas/domain/qemu/1.0"/></domain>`;
    assert.equal(patch(doc, [{ op: "set", path: "/domain/qemu:commandline/@x", value: "1" }]), `<domain><commandline xmlns="http://libvirt.org/schemas/domain/qemu/1.0" x="1"/></domain>`);
  });
});

describe("bad selectors are reported with the column in the selector", () => {
  const cases: [string, string, number, RegExp][] = [
    ["empty", "", 1, /empty selector/],
    ["relative", "domain", 1, /starts with \//],
    ["a trailing slash", "/domain/", 9, /expected a name at the end/],
    ["an unclosed quoted value", "/domain[@a='x]", 12, /unclosed quoted value/],
    ["position zero", "/domain[0]", 9, /positions start at 1/],
    ["or", "/domain[@a or @b]", 12, /'or' is not supported/],
    ["a step after @attr", "/domain/@a/b", 11, /@attr must be the last step/],
    ["a step after text()", "/domain/text()/x", 15, /text\(\) must be the last step/],
    ["//@attr", "//@a", 3, /\/\/@attr is not supported/],
    ["an absolute path in a predicate", "/domain[/x]", 9, /relative/],
    ["two colons", "/a:b:c", 2, /not a valid qualified name/],
    ["!=", "/domain[@a!='x']", 11, /'!=' is not supported/],
    ["a name starting with a digit", "/1domain", 2, /not a name/],
    ["an unclosed predicate", "/domain[@a", 11, /unclosed \[/],
  ];
  for (const [name, selector, column, reason] of cases) {
    test(name, () => {
      assert.throws(
        () => parseSelector(selector),
        (e: unknown) => e instanceof SelectorError && e.column === column && reason.test(e.message) && e.message.includes(`"${selector}"`),
      );
    });
  }
});
