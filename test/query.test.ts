// query()/queryValue(): reading a document with the patch language's selectors.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { query, queryValue, PatchError, patch, DocumentReader } from "../src/index.ts";
import { corpus } from "./corpus-files.ts";

const domain = readFileSync(path.join(corpus, "kubevirt", "domain.xml"));

describe("query", () => {
  test("an attribute selector yields decoded values of the elements that carry it", () => {
    const doc = `<d><i a='x &amp; y'/><i/><i a="2"></i></d>`;
    assert.deepEqual(query(doc, "/d/i/@a").map((m) => m.value), ["x & y", "2"]);
  });

  test("an element selector yields the element's source text and byte range", () => {
    const doc = `<d>\n  <i a='1'><!-- c --></i>\n  <j/>\n</d>`;
    const [m] = query(doc, "//i");
    assert.equal(m.value, `<i a='1'><!-- c --></i>`);
    assert.equal(doc.slice(m.start, m.end), m.value);
    assert.deepEqual(query(doc, "/d/j").map((x) => x.value), ["<j/>"]);
  });

  test("text() yields the element's own character data, CDATA and references decoded", () => {
    assert.equal(queryValue("<d><t>a&lt;<![CDATA[<b>]]><x/>c</t></d>", "/d/t/text()"), "a<<b>c");
  });

  test("predicates, // and prefixes behave as in patch()", () => {
    const v = queryValue(domain, "/domain/devices/interface[alias/@name='ua-default']/model/@type");
    assert.equal(v, "virtio-non-transitional");
    const viaPatch = patch(domain, [{ op: "set", path: "/domain/devices/interface[alias/@name='ua-default']/model/@type", value: v! }]);
    assert.deepEqual(new Uint8Array(viaPatch as Uint8Array), new Uint8Array(domain), "setting the value read back changes nothing");
    assert.ok(query(domain, "//disk").length >= 1);
    const ns = `<d xmlns:q="urn:q"><q:x v="1"/><x v="2"/></d>`;
    assert.deepEqual(query(ns, "/d/q:x/@v").map((m) => m.value), ["1"]);
    assert.deepEqual(query(ns, "/d/p:x/@v", { namespaces: { p: "urn:q" } }).map((m) => m.value), ["1"], "prefixes resolve by URI");
  });

  test("nothing matching gives [] and undefined", () => {
    assert.deepEqual(query(domain, "/domain/nothing"), []);
    assert.equal(queryValue(domain, "/domain/@nothing"), undefined);
  });

  test("malformed XML and a bad selector throw PatchError with a code and where", () => {
    assert.throws(() => query("<a><b></a>", "/a"), (e: unknown) => e instanceof PatchError && e.code === "malformed-xml" && e.line === 1 && e.column === 7 && /1:7/.test(e.message));
    assert.throws(() => query("<a/>", "/a[@"), (e: unknown) => e instanceof PatchError && e.code === "bad-selector");
  });

  test("a DocumentReader answers several queries from one tokenize, as query() would", () => {
    const reader = new DocumentReader(domain);
    for (const path of ["/domain/@type", "//disk/target/@dev", "/domain/devices/interface/alias/@name", "/domain/os/type/text()"]) {
      assert.deepEqual(reader.query(path), query(domain, path));
    }
    assert.equal(reader.value("/domain/name/text()"), "mynamespace_testvmi");
    assert.throws(() => new DocumentReader("<a>"), (e: unknown) => e instanceof PatchError && e.code === "malformed-xml");
  });
});
