// The prolog (XML declaration, comments, PIs, DOCTYPE with its internal subset), the entity
// judgement and the input encodings, by behaviour: which documents are rejected, with which
// code at which line:column, which are accepted, what tokens the prolog produces, and that
// UTF-16 input round-trips byte for byte.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { tokenize } from "../src/xml/tokenizer.ts";
import { scanProlog } from "../src/xml/prolog.ts";
import { textToUtf8, toUtf8, transcodedFrom } from "../src/xml/encoding.ts";
import { DEFAULT_LIMITS, TokenKind, TokenTableBuilder } from "../src/xml/tokens.ts";

const encoder = new TextEncoder();

function verdict(document: Uint8Array | string): string {
  const bytes = typeof document === "string" ? encoder.encode(document) : document;
  const result = tokenize(bytes);
  return result.ok ? "accepted" : `${result.error.line}:${result.error.column} ${result.error.code}`;
}

// [behaviour, document, line:column, code]
const rejected: [string, string, string, string][] = [
  ["XML declaration after a leading space is a reserved PI", " <?xml version=\"1.0\"?><a/>", "1:2", "reserved-pi-target"],
  ["XML declaration without version", "<?xml encoding=\"UTF-8\"?><a/>", "1:7", "bad-xml-declaration"],
  ["XML declaration with version 2.0", "<?xml version=\"2.0\"?><a/>", "1:16", "bad-xml-declaration"],
  ["XML declaration with standalone before encoding", "<?xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"?><a/>", "1:38", "bad-xml-declaration"],
  ["XML declaration with standalone maybe", "<?xml version=\"1.0\" standalone=\"maybe\"?><a/>", "1:33", "bad-xml-declaration"],
  ["XML declaration with an invalid encoding name", "<?xml version=\"1.0\" encoding=\"8bit\"?><a/>", "1:31", "bad-xml-declaration"],
  ["XML declaration with no space between pseudo-attributes", "<?xml version=\"1.0\"encoding=\"UTF-8\"?><a/>", "1:20", "expected-whitespace"],
  ["XML declaration with an unknown pseudo-attribute", "<?xml version=\"1.0\" lang=\"en\"?><a/>", "1:21", "bad-xml-declaration"],
  ["XML declaration in upper case is a reserved PI target", "<?XML version=\"1.0\"?><a/>", "1:1", "reserved-pi-target"],
  ["XML declaration cut off by the end of input", "<?xml version='1.0'", "1:20", "unexpected-eof"],
  ["PI target xMl is reserved", "<?xMl x?><a/>", "1:1", "reserved-pi-target"],
  ["PI without space after the target", "<?pi?x?><a/>", "1:5", "expected-whitespace"],
  ["UTF-16 declared in a UTF-8 document", "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>", "1:31", "encoding-mismatch"],
  ["Latin-1 declared with a non-ASCII byte", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<a>é</a>", "2:4", "unsupported-encoding"],
  ["Unknown encoding", "<?xml version=\"1.0\" encoding=\"EBCDIC-US\"?><a/>", "1:31", "unsupported-encoding"],
  ["text before the root element", "<?xml version=\"1.0\"?>\nhello<a/>", "2:1", "content-before-root"],
  ["no root element after a comment", "<!-- c -->\n", "2:1", "no-root-element"],
  ["empty document", "", "1:1", "no-root-element"],
  ["end tag before the root", "</a>", "1:1", "no-root-element"],
  ["two DOCTYPEs", "<!DOCTYPE a>\n<!DOCTYPE a>\n<a/>", "2:1", "duplicate-doctype"],
  ["DOCTYPE without a name", "<!DOCTYPE>\n<a/>", "1:10", "expected-whitespace"],
  ["DOCTYPE PUBLIC without a system literal", "<!DOCTYPE a PUBLIC \"-//x//EN\">\n<a/>", "1:30", "expected-quote"],
  ["public identifier with a forbidden character", "<!DOCTYPE a PUBLIC \"-//x{//EN\" \"a.dtd\">\n<a/>", "1:25", "invalid-pubid-char"],
  ["double hyphen in a prolog comment", "<!-- a -- b -->\n<a/>", "1:8", "double-hyphen-in-comment"],
  ["comment ending in --->", "<!-- a --->\n<a/>", "1:8", "double-hyphen-in-comment"],
  ["control character in a prolog comment", "<!-- a \u0001 -->\n<a/>", "1:8", "invalid-char"],
  ["unterminated internal subset", "<!DOCTYPE a [\n<!ELEMENT a ANY>\n", "3:1", "unexpected-eof"],
  ["conditional section in the internal subset", "<!DOCTYPE a [\n<![INCLUDE[ <!ELEMENT a ANY> ]]>\n]>\n<a/>", "2:1", "conditional-section-in-internal-subset"],
  ["ELEMENT with a lower-case keyword", "<!DOCTYPE a [\n<!ELEMENT a any>\n]>\n<a/>", "2:13", "syntax-error"],
  ["mixed content naming elements must end with )*", "<!DOCTYPE a [\n<!ELEMENT a (#PCDATA|b)>\n]>\n<a/>", "2:24", "syntax-error"],
  ["content model mixing | and ,", "<!DOCTYPE a [\n<!ELEMENT a (b,c|d)>\n]>\n<a/>", "2:17", "syntax-error"],
  ["#PCDATA not first", "<!DOCTYPE a [\n<!ELEMENT a (b|#PCDATA)*>\n]>\n<a/>", "2:16", "syntax-error"],
  ["ATTLIST with an unknown type", "<!DOCTYPE a [\n<!ATTLIST a x STRING #IMPLIED>\n]>\n<a/>", "2:15", "syntax-error"],
  ["ATTLIST with #CURRENT", "<!DOCTYPE a [\n<!ATTLIST a x CDATA #CURRENT>\n]>\n<a/>", "2:21", "syntax-error"],
  ["ATTLIST default with '<'", "<!DOCTYPE a [\n<!ATTLIST a x CDATA \"a<b\">\n]>\n<a/>", "2:23", "lt-in-attribute-value"],
  ["ATTLIST default with a bare '&'", "<!DOCTYPE a [\n<!ATTLIST a x CDATA \"a&b\">\n]>\n<a/>", "2:23", "bad-reference"],
  ["ATTLIST default referencing an entity declared later", "<!DOCTYPE a [\n<!ATTLIST a x CDATA \"&e;\">\n<!ENTITY e \"v\">\n]>\n<a/>", "2:22", "undeclared-entity"],
  ["ATTLIST default referencing an entity with '<'", "<!DOCTYPE a [\n<!ENTITY e \"<b/>\">\n<!ATTLIST a x CDATA \"&e;\">\n]>\n<a/>", "3:22", "lt-in-attribute-value"],
  ["ATTLIST without whitespace between definitions", "<!DOCTYPE a [\n<!ATTLIST a x CDATA #IMPLIEDy CDATA #IMPLIED>\n]>\n<a/>", "2:21", "syntax-error"],
  ["enumeration with a comma", "<!DOCTYPE a [\n<!ATTLIST a x (p,q) \"p\">\n]>\n<a/>", "2:17", "syntax-error"],
  ["NOTATION type without parentheses", "<!DOCTYPE a [\n<!ATTLIST a x NOTATION n #IMPLIED>\n]>\n<a/>", "2:24", "syntax-error"],
  ["ENTITY value with a PE reference in the internal subset", "<!DOCTYPE a [\n<!ENTITY % p \"x\">\n<!ENTITY e \"%p;\">\n]>\n<a/>", "3:13", "pe-reference-in-internal-subset"],
  ["PE reference inside an ELEMENT declaration", "<!DOCTYPE a [\n<!ENTITY % p \"ANY\">\n<!ELEMENT a %p;>\n]>\n<a/>", "3:13", "pe-reference-in-internal-subset"],
  ["ENTITY value with a bare '&'", "<!DOCTYPE a [\n<!ENTITY e \"a & b\">\n]>\n<a/>", "2:15", "bad-reference"],
  ["ENTITY value with a reference to a forbidden character", "<!DOCTYPE a [\n<!ENTITY e \"&#0;\">\n]>\n<a/>", "2:13", "invalid-char-ref"],
  ["parameter entity with NDATA", "<!DOCTYPE a [\n<!NOTATION n SYSTEM \"n\">\n<!ENTITY % p SYSTEM \"p\" NDATA n>\n]>\n<a/>", "3:25", "syntax-error"],
  ["ENTITY without whitespace before the value", "<!DOCTYPE a [\n<!ENTITY e\"v\">\n]>\n<a/>", "2:11", "expected-whitespace"],
  ["NOTATION without an identifier", "<!DOCTYPE a [\n<!NOTATION n>\n]>\n<a/>", "2:13", "expected-whitespace"],
  ["undeclared parameter entity in an internal-only DTD", "<!DOCTYPE a [\n %p;\n]>\n<a/>", "2:2", "undeclared-entity"],
  ["parameter entity holding a partial declaration", "<!DOCTYPE a [\n<!ENTITY % p \"<!ELEMENT a\">\n%p; ANY>\n]>\n<a/>", "3:1", "bad-parameter-entity"],
  ["parameter entity referring to itself through &#37;", "<!DOCTYPE a [\n<!ENTITY % p \"&#37;p;\">\n%p;\n]>\n<a/>", "3:1", "recursive-entity"],
  ["undeclared entity without a DTD", "<a>\n  x &e; y\n</a>", "2:5", "undeclared-entity"],
  ["undeclared entity with an internal-only DTD", "<!DOCTYPE a [\n<!ENTITY f \"v\">\n]>\n<a>&e;</a>", "4:4", "undeclared-entity"],
  ["undeclared entity with standalone=yes and an external subset", "<?xml version=\"1.0\" standalone=\"yes\"?>\n<!DOCTYPE a SYSTEM \"a.dtd\">\n<a>&e;</a>", "3:4", "undeclared-entity"],
  ["unparsed entity referenced in content", "<!DOCTYPE a [\n<!NOTATION n SYSTEM \"n\">\n<!ENTITY u SYSTEM \"u.gif\" NDATA n>\n]>\n<a>&u;</a>", "5:4", "unparsed-entity-reference"],
  ["external entity referenced in an attribute value", "<!DOCTYPE a [\n<!ENTITY x SYSTEM \"x.xml\">\n]>\n<a v=\"&x;\"/>", "4:7", "external-entity-in-attribute"],
  ["entity with '<' referenced in an attribute value", "<!DOCTYPE a [\n<!ENTITY e \"&#60;\">\n]>\n<a v=\"&e;\"/>", "4:7", "lt-in-attribute-value"],
  ["entity with '<' reached through another entity in an attribute value", "<!DOCTYPE a [\n<!ENTITY e \"x<y\">\n<!ENTITY f \"&e;\">\n]>\n<a v=\"&f;\"/>", "5:7", "lt-in-attribute-value"],
  ["entity referring to itself", "<!DOCTYPE a [\n<!ENTITY e \"x&e;\">\n]>\n<a>&e;</a>", "4:4", "recursive-entity"],
  ["entities referring to each other", "<!DOCTYPE a [\n<!ENTITY e \"&f;\">\n<!ENTITY f \"&e;\">\n]>\n<a>\n&e;</a>", "6:1", "recursive-entity"],
  ["entity whose replacement text leaves an element open", "<!DOCTYPE a [\n<!ENTITY e \"<b>\">\n]>\n<a>&e;</b></a>", "4:4", "bad-entity-replacement"],
  ["entity whose replacement text is a lone '<' from a character reference", "<!DOCTYPE a [\n<!ENTITY e \"&#60;\">\n]>\n<a>&e;</a>", "4:4", "bad-entity-replacement"],
  ["entity whose replacement text has a bare '&' from a character reference", "<!DOCTYPE a [\n<!ENTITY e \"&#38;\">\n]>\n<a>&e;</a>", "4:4", "bad-entity-replacement"],
  ["entity whose replacement text holds an XML declaration", "<!DOCTYPE a [\n<!ENTITY e \"<?xml version='1.0'?>\">\n]>\n<a>&e;</a>", "4:4", "bad-entity-replacement"],
  ["entity reference in the second line counts columns in characters", "<!DOCTYPE a>\n<a>éé&e;</a>", "2:6", "undeclared-entity"],
  ["character reference to '<' in an entity value is expanded when declared", "<!DOCTYPE a [\n<!ENTITY e \"x &#60; y\">\n]>\n<a>&e;</a>", "4:4", "bad-entity-replacement"],
];

describe("prolog, DTD and entity errors are rejected at their line:column", () => {
  for (const [behaviour, document, position, code] of rejected) {
    test(behaviour, () => {
      assert.equal(verdict(document), `${position} ${code}`);
    });
  }
});

// [behaviour, document]
const accepted: [string, string][] = [
  ["XML declaration with all three pseudo-attributes", `<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n<a/>`],
  ["XML declaration with single quotes and spaces around =", `<?xml version = '1.0' encoding = 'utf-8'?><a/>`],
  ["XML declaration with version 1.1 read as 1.0 (5th edition)", `<?xml version="1.1"?><a/>`],
  ["US-ASCII declared for an ASCII document", `<?xml version="1.0" encoding="US-ASCII"?><a/>`],
  ["ISO-8859-1 declared for an ASCII document", `<?xml version="1.0" encoding="ISO-8859-1"?><a>x</a>`],
  ["UTF-8 BOM before the XML declaration", `\uFEFF<?xml version="1.0" encoding="UTF-8"?><a/>`],
  ["PI targets that only start with xml are not reserved", `<?xml-model href="m.rng"?>\n<?xml:x y?>\n<a/>`],
  ["xml-stylesheet PI and comments before the root", `<?xml-stylesheet href="s.css"?>\n<!-- c -->\n<?pi data?>\n<a/>`],
  ["empty comment <!---->", `<!---->\n<a/>`],
  ["DOCTYPE with SYSTEM and an internal subset", `<!DOCTYPE a SYSTEM "a.dtd" [\n<!ELEMENT a ANY>\n]>\n<a/>`],
  ["DOCTYPE with PUBLIC and every PubidChar", `<!DOCTYPE a PUBLIC "-//A b'()+,./:=?;!*#@$_%\n//EN" 'a.dtd'><a/>`],
  ["every kind of markup declaration", `<!DOCTYPE a [\n<!ELEMENT a (#PCDATA|b|c)*>\n<!ELEMENT b ((c,d)|e+)?>\n<!ELEMENT c EMPTY>\n<!ELEMENT d ANY>\n<!ELEMENT e ( #PCDATA ) >\n<!ATTLIST a\n  x CDATA #IMPLIED\n  y ID #REQUIRED\n  z (p|q-1|2) "p"\n  w NOTATION (n) #IMPLIED\n  v NMTOKENS #FIXED "a b"\n  u ENTITY #IMPLIED>\n<!ATTLIST b>\n<!NOTATION n PUBLIC "n">\n<!NOTATION m PUBLIC "m" "m.exe">\n<!ENTITY e "v">\n<!ENTITY x SYSTEM "x.xml">\n<!ENTITY u SYSTEM "u.gif" NDATA n>\n<!ENTITY % p "<!ELEMENT f ANY>">\n%p;\n<?pi x?>\n<!-- c -->\n]>\n<a y="i" u="u"/>`],
  ["declared internal entity in content and attribute", `<!DOCTYPE a [\n<!ENTITY e "x &amp; &#38;#60; <b>y</b>">\n<!ENTITY f "v &#38;#60; w">\n]>\n<a v="&f;">&e;</a>`],
  ["external parsed entity in content (never loaded)", `<!DOCTYPE a [\n<!ENTITY x SYSTEM "x.xml">\n]>\n<a>&x;</a>`],
  ["undeclared entity when an external subset may declare it", `<!DOCTYPE a SYSTEM "a.dtd">\n<a>&e;</a>`],
  ["undeclared entity after a parameter-entity reference", `<!DOCTYPE a [\n<!ENTITY % ext SYSTEM "ext.ent">\n%ext;\n]>\n<a>&e;</a>`],
  ["first declaration of an entity binds", `<!DOCTYPE a [\n<!ENTITY e "ok">\n<!ENTITY e "<">\n]>\n<a>&e;</a>`],
  ["unreferenced entity with an unbalanced replacement text", `<!DOCTYPE a [\n<!ENTITY e "<b>">\n]>\n<a/>`],
  ["entity reaching an undeclared entity is judged only when referenced", `<!DOCTYPE a [\n<!ENTITY e "&nope;">\n]>\n<a/>`],
  ["entity declared inside nested parameter entities (XML 1.0 appendix D example)", "<!DOCTYPE test [\n<!ENTITY % xx '&#37;zz;'>\n<!ENTITY % zz '&#60;!ENTITY tricky \"error-prone\" >' >\n%xx;\n]>\n<test>a &tricky; method</test>"],
  ["billion laughs is judged without expanding", `<!DOCTYPE a [\n<!ENTITY l0 "lol">\n<!ENTITY l1 "&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;">\n<!ENTITY l2 "&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;">\n<!ENTITY l3 "&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;">\n<!ENTITY l4 "&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;">\n<!ENTITY l5 "&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;">\n<!ENTITY l6 "&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;">\n<!ENTITY l7 "&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;">\n<!ENTITY l8 "&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;">\n<!ENTITY l9 "&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;">\n]>\n<a v="&l9;">&l9;</a>`],
];

describe("well-formed prologs and entity uses are accepted", () => {
  for (const [behaviour, document] of accepted) {
    test(behaviour, () => {
      assert.equal(verdict(document), "accepted");
    });
  }
});

describe("prolog tokens", () => {
  test("BOM, XML declaration, whitespace, comment, PI and DOCTYPE each get their token, in order, up to the root", () => {
    const text = `\uFEFF<?xml version="1.0"?>\n<!-- c -->\n<?pi data?>\n<!DOCTYPE doc [<!ENTITY e "v">]>\n<doc/>`;
    const bytes = encoder.encode(text);
    const table = new TokenTableBuilder();
    const result = scanProlog(bytes, table, DEFAULT_LIMITS);
    assert.ok(!("code" in result), "prolog accepted");
    const decoder = new TextDecoder();
    const tokens = Array.from({ length: table.count }, (_, i) => [
      table.kind[i],
      decoder.decode(bytes.subarray(table.start[i], table.end[i])),
      table.mid[i] === 0 ? "" : decoder.decode(bytes.subarray(table.start[i], table.mid[i])),
    ]);
    assert.deepEqual(tokens, [
      [TokenKind.XmlDecl, `<?xml version="1.0"?>`, ""],
      [TokenKind.Text, "\n", ""],
      [TokenKind.Comment, "<!-- c -->", ""],
      [TokenKind.Text, "\n", ""],
      [TokenKind.PI, "<?pi data?>", "<?pi"],
      [TokenKind.Text, "\n", ""],
      [TokenKind.Doctype, `<!DOCTYPE doc [<!ENTITY e "v">]>`, "<!DOCTYPE doc"],
      [TokenKind.Text, "\n", ""],
    ]);
    assert.equal(decoder.decode(bytes.subarray(result.bodyStart, result.bodyStart + 6)), "<doc/>");
    assert.equal(result.dtd?.rootName, "doc");
    assert.equal(result.dtd?.generalEntities.get("e")?.kind, "internal");
  });

  test("a document without prolog starts its body at offset 0 and has no DTD", () => {
    const table = new TokenTableBuilder();
    const result = scanProlog(encoder.encode("<a/>"), table, DEFAULT_LIMITS);
    assert.deepEqual(result, { bodyStart: 0, dtd: null });
    assert.equal(table.count, 0);
  });

  test("prolog tokens count against the token limit", () => {
    const table = new TokenTableBuilder();
    const result = scanProlog(encoder.encode("<!--1--><!--2--><!--3--><a/>"), table, { ...DEFAULT_LIMITS, maxTokens: 2 });
    assert.ok("code" in result);
    assert.equal(result.code, "too-many-tokens");
    assert.equal(result.column, 17);
  });
});

describe("hostile DTDs are judged in bounded time and stack", () => {
  test("parameter-entity laughs (10^12 expansions) parse each entity's text once", { timeout: 10_000 }, () => {
    let doc = `<!DOCTYPE a [<!ENTITY % l0 "<!-- x -->">`;
    for (let i = 1; i <= 12; i++) doc += `<!ENTITY % l${i} "${`&#37;l${i - 1};`.repeat(10)}">`;
    doc += `%l12;]><a/>`;
    assert.equal(verdict(doc), "accepted");
  });

  test("a 1 MB entity referenced from 10,000 attribute defaults is judged once", { timeout: 10_000 }, () => {
    let doc = `<!DOCTYPE a [<!ENTITY big "${"x".repeat(1 << 20)}">`;
    for (let i = 0; i < 10_000; i++) doc += `<!ATTLIST a v${i} CDATA "&big;">`;
    doc += `]><a/>`;
    assert.equal(verdict(doc), "accepted");
  });

  test("general-entity laughs (10^12 expansions) in content and attributes judge each entity once", { timeout: 10_000 }, () => {
    let doc = `<!DOCTYPE a [<!ENTITY l0 "lol">`;
    for (let i = 1; i <= 12; i++) doc += `<!ENTITY l${i} "${`&l${i - 1};`.repeat(10)}">`;
    doc += `]><a v="&l12;">&l12;</a>`;
    assert.equal(verdict(doc), "accepted");
  });

  test("content-model groups nested 100,000 deep are rejected as too deep", () => {
    assert.match(verdict(`<!DOCTYPE a [<!ELEMENT a ${"(".repeat(100_000)}b${")".repeat(100_000)}>]><a/>`), /too-deep$/);
  });

  test("an entity chain 5,000 long is rejected as too deep, not by a stack overflow", () => {
    let doc = "<!DOCTYPE a [";
    for (let i = 0; i < 5000; i++) doc += `<!ENTITY e${i} "&e${i + 1};">`;
    doc += `<!ENTITY e5000 "x">]>\n<a>&e0;</a>`;
    assert.equal(verdict(doc), "2:4 too-deep");
  });
});

function utf16(text: string, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(2 + text.length * 2);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xfeff, littleEndian);
  for (let i = 0; i < text.length; i++) view.setUint16(2 + 2 * i, text.charCodeAt(i), littleEndian);
  return out;
}

describe("input encodings", () => {
  const text = `<?xml version="1.0" encoding="UTF-16"?>\n<a b="é">😀 text</a>\n`;

  for (const littleEndian of [true, false]) {
    const form = littleEndian ? "UTF-16LE" : "UTF-16BE";

    test(`${form} with a BOM is transcoded to BOM-less UTF-8 and accepted`, () => {
      const input = utf16(text, littleEndian);
      const { utf8 } = toUtf8(input);
      assert.deepEqual(utf8, encoder.encode(text));
      assert.equal(transcodedFrom(utf8), littleEndian ? "utf-16le" : "utf-16be");
      assert.equal(verdict(utf8), "accepted");
    });

    test(`${form}: fromUtf8 gives the input back byte for byte`, () => {
      const input = utf16(text, littleEndian);
      const { utf8, fromUtf8 } = toUtf8(input);
      assert.deepEqual(fromUtf8(utf8), input);
    });

    test(`${form} declaring UTF-8 is rejected at the encoding name`, () => {
      const { utf8 } = toUtf8(utf16(`<?xml version="1.0" encoding="UTF-8"?><a/>`, littleEndian));
      assert.equal(verdict(utf8), "1:31 encoding-mismatch");
    });

    test(`${form} with a lone surrogate is rejected at that character and still round-trips`, () => {
      const input = utf16("<a>\nxy\ud800z</a>", littleEndian);
      const { utf8, fromUtf8 } = toUtf8(input);
      assert.equal(verdict(utf8), "2:3 invalid-utf8");
      assert.deepEqual(fromUtf8(utf8), input);
    });

    test(`${form} with an odd trailing byte is rejected and still round-trips`, () => {
      const whole = utf16("<a/>", littleEndian);
      const input = new Uint8Array(whole.length + 1);
      input.set(whole);
      input[whole.length] = 0x41;
      const { utf8, fromUtf8 } = toUtf8(input);
      assert.match(verdict(utf8), /^1:5 /);
      assert.deepEqual(fromUtf8(utf8), input);
    });
  }

  test("any bytes after a UTF-16 byte order mark round-trip through toUtf8 and fromUtf8", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: 200 }), (littleEndian, body) => {
        const input = new Uint8Array(2 + body.length);
        input.set(littleEndian ? [0xff, 0xfe] : [0xfe, 0xff]);
        input.set(body, 2);
        const { utf8, fromUtf8 } = toUtf8(input);
        assert.deepEqual(fromUtf8(utf8), input);
      }),
      { numRuns: 2000 },
    );
  });

  test("UTF-16 text transcodes to the same UTF-8 a TextEncoder makes", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.string({ unit: "grapheme", maxLength: 60 }), (littleEndian, text) => {
        assert.deepEqual(toUtf8(utf16(text, littleEndian)).utf8, encoder.encode(text));
      }),
      { numRuns: 1000 },
    );
  });

  test("UTF-8 input (with or without BOM) passes through untouched", () => {
    for (const input of [encoder.encode("<a>é</a>"), encoder.encode("\uFEFF<a>é</a>")]) {
      const { utf8, fromUtf8 } = toUtf8(input);
      assert.equal(utf8, input);
      assert.equal(transcodedFrom(utf8), null);
      const out = encoder.encode("<b/>");
      assert.equal(fromUtf8(out), out);
    }
  });

  test("a document given as a string may declare any encoding: it is already decoded text", () => {
    const utf8 = textToUtf8(`<?xml version="1.0" encoding="UTF-16"?>\n<a>é</a>`);
    assert.equal(transcodedFrom(utf8), "text");
    assert.equal(verdict(utf8), "accepted");
  });

  test("UTF-16 without a BOM is not guessed: the NUL bytes are rejected at 1:1", () => {
    const bytes = utf16("<a/>", false).subarray(2);
    assert.equal(toUtf8(bytes).utf8, bytes);
    assert.equal(verdict(bytes), "1:1 invalid-char");
  });

  test("a UTF-8 BOM with an ISO-8859-1 declaration is a mismatch", () => {
    // Column 31, as an editor shows it: the BOM is not counted as a character.
    assert.equal(verdict(`\uFEFF<?xml version="1.0" encoding="ISO-8859-1"?><a/>`), "1:31 encoding-mismatch");
  });
});

describe("mutated prologs", () => {
  const seeds = accepted.map(([, document]) => encoder.encode(document));
  const mutation = fc.record({
    seed: fc.nat({ max: seeds.length - 1 }),
    edits: fc.array(
      fc.record({
        kind: fc.constantFrom("flip", "delete", "insert", "truncate"),
        at: fc.nat(),
        byte: fc.constantFrom(0x3c, 0x3e, 0x25, 0x26, 0x3b, 0x22, 0x27, 0x5b, 0x5d, 0x28, 0x29, 0x7c, 0x23, 0x20, 0x2d, 0x3f, 0x21, 0x00, 0xc3, 0xff),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  });

  function mutate(bytes: Uint8Array, edits: { kind: string; at: number; byte: number }[]): Uint8Array {
    let out = bytes;
    for (const edit of edits) {
      const at = out.length === 0 ? 0 : edit.at % out.length;
      if (edit.kind === "flip") {
        out = out.slice();
        out[at] = edit.byte;
      } else if (edit.kind === "delete") {
        out = new Uint8Array([...out.subarray(0, at), ...out.subarray(at + 1)]);
      } else if (edit.kind === "insert") {
        out = new Uint8Array([...out.subarray(0, at), edit.byte, ...out.subarray(at)]);
      } else {
        out = out.slice(0, at);
      }
    }
    return out;
  }

  test("never throw, and every rejection is an error value with line, column and an offset inside the input", () => {
    fc.assert(
      fc.property(mutation, ({ seed, edits }) => {
        const bytes = mutate(seeds[seed], edits);
        const result = tokenize(bytes);
        if (!result.ok) {
          assert.ok(result.error.line >= 1 && result.error.column >= 1, "line and column are 1-based");
          assert.ok(result.error.offset >= 0 && result.error.offset <= bytes.length, "offset inside the input");
          assert.match(result.error.code, /^[a-z0-9]+(-[a-z0-9]+)*$/);
          assert.ok(result.error.message.length > 0);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
