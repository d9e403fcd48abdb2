// The xml tagged template and the escaping it relies on: every interpolation is escaped for
// the place it lands, fragments nest without double escaping, and a fragment is accepted by
// add/replace as is.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { xml, rawXml, isXmlFragment, escapeAttribute, escapeText, patch, check, PatchError } from "../src/index.ts";

describe("interpolations are escaped for their place", () => {
  test("an unquoted attribute value is quoted and escaped", () => {
    assert.equal(String(xml`<mac address=${`a"b<&>`}/>`), `<mac address="a&quot;b&lt;&amp;&gt;"/>`);
  });
  test("a double-quoted attribute value is escaped for double quotes", () => {
    assert.equal(String(xml`<alias name="${`it's "x"`}"/>`), `<alias name="it's &quot;x&quot;"/>`);
  });
  test("a single-quoted attribute value is escaped for single quotes", () => {
    assert.equal(String(xml`<alias name='${`it's "x"`}'/>`), `<alias name='it&apos;s "x"'/>`);
  });
  test("tab, newline and CR in attribute values become references", () => {
    assert.equal(String(xml`<a v=${"1\t2\n3\r"}/>`), `<a v="1&#9;2&#10;3&#13;"/>`);
  });
  test("text is escaped", () => {
    assert.equal(String(xml`<name>${"a < b & c > d"}</name>`), `<name>a &lt; b &amp; c &gt; d</name>`);
  });
  test("numbers and booleans become their text", () => {
    assert.equal(String(xml`<mtu size=${1500} on=${true}>${42}</mtu>`), `<mtu size="1500" on="true">42</mtu>`);
  });
  test("an unquoted attribute given null or undefined is left out", () => {
    assert.equal(String(xml`<interface type="x" mac=${undefined} mtu=${null}/>`), `<interface type="x"/>`);
  });
  test("text given null, undefined or false is empty", () => {
    assert.equal(String(xml`<a>${null}${undefined}${false}</a>`), `<a></a>`);
  });
  test("after a comment, interpolations are text again", () => {
    assert.equal(String(xml`<a><!-- a > b -->${"<"}</a>`), `<a><!-- a > b -->&lt;</a>`);
  });
});

describe("fragments nest without double escaping", () => {
  test("a fragment interpolated as text is inserted as markup", () => {
    const inner = xml`<source dev=${"eth&0"}/>`;
    assert.equal(String(xml`<interface>${inner}</interface>`), `<interface><source dev="eth&amp;0"/></interface>`);
  });
  test("an array of fragments and strings", () => {
    const ports = [8080, 443].map((port) => xml`<range start=${port}/>`);
    assert.equal(String(xml`<portForward>${ports}${"&"}</portForward>`), `<portForward><range start="8080"/><range start="443"/>&amp;</portForward>`);
  });
  test("rawXml marks trusted markup as a fragment", () => {
    assert.ok(isXmlFragment(rawXml("<x/>")));
    assert.ok(!isXmlFragment("<x/>"));
    assert.equal(String(xml`<a>${rawXml("<x/>")}</a>`), `<a><x/></a>`);
  });
});

describe("interpolations where no escaping keeps the markup are refused", () => {
  const cases: [string, () => unknown, RegExp][] = [
    ["a tag name", () => xml`<${"x"}/>`, /tag name/],
    ["an attribute name", () => xml`<a ${"x"}="1"/>`, /attribute name/],
    ["a comment", () => xml`<!-- ${"x"} -->`, /comment/],
    ["a CDATA section", () => xml`<![CDATA[${"x"}]]>`, /CDATA/],
    ["a fragment in an attribute value", () => xml`<a v="${xml`<x/>`}"/>`, /fragment inside an attribute value/],
    ["an object as text", () => xml`<a>${{}}</a>`, /cannot interpolate object/],
  ];
  for (const [name, build, message] of cases) test(name, () => assert.throws(build, (e: unknown) => e instanceof TypeError && message.test(e.message)));
});

describe("characters XML cannot hold are refused, not written", () => {
  const cases: [string, () => unknown, RegExp][] = [
    ["a C0 control in text", () => xml`<t>${"a\u0001b"}</t>`, /U\+0001 at index 1/],
    ["a C0 control in an attribute value", () => xml`<t a=${"\u001f"}/>`, /U\+001F at index 0/],
    ["a lone high surrogate", () => escapeText("x\ud800"), /U\+D800/],
    ["a lone low surrogate", () => escapeAttribute("\udc00", 0x22), /U\+DC00/],
    ["U+FFFF", () => escapeText("\uffff"), /U\+FFFF/],
  ];
  for (const [name, build, message] of cases) test(name, () => assert.throws(build, (e: unknown) => e instanceof RangeError && message.test(e.message)));

  test("tab, newline, CR and astral characters are fine (tab/LF/CR in attributes as references)", () => {
    assert.equal(escapeAttribute("\t\n\r😀", 0x22), "&#9;&#10;&#13;😀");
    assert.equal(escapeText("a\tb\n😀"), "a\tb\n😀");
  });
});

describe("fragments in patches", () => {
  test("add takes a fragment and escapes nothing twice", () => {
    const mac = "02:00:00:00:00:01";
    const out = patch(`<domain>\n  <devices/>\n</domain>`, [{ op: "add", path: "/domain/devices", xml: xml`<interface type="ethernet"><mac address=${mac}/><alias name=${"a&b"}/></interface>` }]);
    assert.equal(out, `<domain>\n  <devices>\n    <interface type="ethernet">\n      <mac address="02:00:00:00:00:01"/>\n      <alias name="a&amp;b"/>\n    </interface>\n  </devices>\n</domain>`);
  });
  test("a fragment that is not well-formed is refused when the patch compiles", () => {
    assert.throws(
      () => patch(`<a/>`, [{ op: "add", path: "/a", xml: xml`<b>${"x"}` }]),
      (e: unknown) => e instanceof PatchError && e.code === "bad-fragment",
    );
  });
});

describe("escaping round-trips through the tokenizer", () => {
  test("any string set as an attribute value or text gives a well-formed document", () => {
    // XML 1.0 characters only; the rest cannot appear in a document at all.
    const xmlChar = fc.string({ unit: "binary", maxLength: 40 }).map((s) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udfff]/g, ""));
    fc.assert(
      fc.property(xmlChar, fc.constantFrom(0x22, 0x27), (value, quote) => {
        const q = String.fromCharCode(quote);
        const doc = `<a v=${q}${escapeAttribute(value, quote)}${q}>${escapeText(value)}</a>`;
        assert.ok(check(doc).ok, doc);
        assert.ok(check(String(xml`<a v=${value}>${value}</a>`)).ok);
      }),
      { numRuns: 500 },
    );
  });
});
