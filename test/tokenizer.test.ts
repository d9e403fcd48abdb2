// tokenize() and check() end to end (prolog + body + entity check): every corpus document
// tokenizes and its token table gives the input back byte for byte, errors carry line, column
// and offset in the whole document, the first error in document order wins, and the limits
// are enforced.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { tokenize } from "../src/xml/tokenizer.ts";
import { check } from "../src/xml/check.ts";
import { TokenKind, TokenTableBuilder, type TokenTable } from "../src/xml/tokens.ts";
import { corpus, domainCorpusFiles } from "./corpus-files.ts";

const encoder = new TextEncoder();


const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * Rebuilds the input from the token table: the top-level tokens in order, each tag from its
 * name, its Attribute tokens and the whitespace between them, and the uncovered gaps (a BOM
 * at the start, whitespace inside tags). Fails if any gap holds anything else, if tokens are
 * out of order, or if a pair link or end-tag name is wrong.
 */
function rebuild(bytes: Uint8Array, table: TokenTable): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let at = 0;
  const copy = (from: number, to: number) => {
    out.set(bytes.subarray(from, to), at);
    at += to - from;
  };
  let pos = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    copy(0, 3);
    pos = 3;
  }
  for (let i = 0; i < table.count; i++) {
    const kind = table.kind[i];
    const start = table.start[i];
    const end = table.end[i];
    if (kind === TokenKind.Attribute) continue; // rebuilt with its tag
    assert.equal(start, pos, `token ${i} (kind ${kind}) starts at ${start}, the previous ended at ${pos}`);
    assert.ok(end > start, `token ${i} is empty`);
    if (kind === TokenKind.StartTag || kind === TokenKind.EmptyTag) {
      copy(start, table.mid[i]);
      let inside = table.mid[i];
      let k = i + 1;
      for (; k < table.count && table.kind[k] === TokenKind.Attribute; k++) {
        assert.equal(table.link[k], i, `attribute ${k} links to its tag`);
        for (let g = inside; g < table.start[k]; g++) assert.ok(isSpace(bytes[g]), `non-space gap byte at ${g}`);
        assert.ok(table.start[k] > inside, `attribute ${k} is separated by whitespace`);
        copy(inside, table.end[k]);
        inside = table.end[k];
      }
      const close = kind === TokenKind.EmptyTag ? end - 2 : end - 1;
      for (let g = inside; g < close; g++) assert.ok(isSpace(bytes[g]), `non-space gap byte at ${g}`);
      copy(inside, end);
      if (kind === TokenKind.EmptyTag) {
        assert.equal(table.link[i], i);
        assert.deepEqual([bytes[end - 2], bytes[end - 1]], [0x2f, 0x3e]);
      } else {
        assert.equal(bytes[end - 1], 0x3e);
        const endTag = table.link[i];
        assert.equal(table.kind[endTag], TokenKind.EndTag, `start tag ${i} links to an end tag`);
        assert.equal(table.link[endTag], i, `end tag ${endTag} links back to ${i}`);
        const name = bytes.subarray(start + 1, table.mid[i]);
        const endName = bytes.subarray(table.start[endTag] + 2, table.mid[endTag]);
        assert.deepEqual(endName, name, `end tag ${endTag} names its start tag`);
      }
    } else {
      copy(start, end);
    }
    pos = end;
  }
  assert.equal(pos, bytes.length, "the tokens reach the end of the input");
  return out.subarray(0, at);
}

function tableOf(bytes: Uint8Array): TokenTable {
  const result = tokenize(bytes);
  if (!result.ok) assert.fail(`${result.error.code} at ${result.error.line}:${result.error.column}: ${result.error.message}`);
  return result.table;
}

const files = domainCorpusFiles();

describe(`tokenize on the corpus (${files.length} documents)`, () => {
  test("the corpus is there", () => {
    assert.ok(files.length >= 280, `expected the shared corpus under ${corpus}`);
  });

  test("every document tokenizes and its tokens and gaps rebuild it byte for byte", () => {
    for (const file of files) {
      const bytes = new Uint8Array(readFileSync(file));
      const table = tableOf(bytes);
      assert.ok(table.root >= 0, `${file}: has a root`);
      assert.ok(table.kind[table.root] === TokenKind.StartTag || table.kind[table.root] === TokenKind.EmptyTag);
      const rebuilt = rebuild(bytes, table);
      assert.equal(Buffer.compare(Buffer.from(rebuilt), Buffer.from(bytes)), 0, `${file} rebuilds differently`);
    }
  });

  test("the root of a libvirt domain is <domain>", () => {
    const bytes = new Uint8Array(readFileSync(path.join(corpus, "kubevirt/domain.xml")));
    const table = tableOf(bytes);
    assert.equal(new TextDecoder().decode(bytes.subarray(table.start[table.root] + 1, table.mid[table.root])), "domain");
  });
});

describe("tokenize with a prolog", () => {
  test("declaration, comment, DOCTYPE and root come out in order with the right spans", () => {
    const doc = `<?xml version="1.0"?>\n<!-- c -->\n<!DOCTYPE domain>\n<domain a='1'/>\n`;
    const bytes = encoder.encode(doc);
    const table = tableOf(bytes);
    const kinds = Array.from(table.kind.subarray(0, table.count));
    assert.deepEqual(kinds, [
      TokenKind.XmlDecl, TokenKind.Text, TokenKind.Comment, TokenKind.Text, TokenKind.Doctype, TokenKind.Text,
      TokenKind.EmptyTag, TokenKind.Attribute, TokenKind.Text,
    ]);
    assert.equal(table.root, 6);
    assert.equal(table.start[table.root], doc.indexOf("<domain"));
    assert.deepEqual(rebuild(bytes, table), bytes);
  });

  test("a UTF-8 BOM is left uncovered before the first token", () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode("<a>x</a>")]);
    const table = tableOf(bytes);
    assert.equal(table.start[0], 3);
    assert.deepEqual(rebuild(bytes, table), bytes);
  });

  test("CRLF line ends, single quotes, CDATA, PIs, namespaces and char refs survive", () => {
    const doc = `<?xml version='1.0' encoding='UTF-8'?>\r\n<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\r\n\t<name>a &amp; b &#x41;</name>\r\n\t<?hook x?><![CDATA[<raw>]]>\r\n\t<qemu:commandline><qemu:arg value='-netdev'/></qemu:commandline>\r\n</domain>\r\n`;
    const bytes = encoder.encode(doc);
    assert.deepEqual(rebuild(bytes, tableOf(bytes)), bytes);
  });
});

describe("tokenize errors", () => {
  test("a body error is placed in the whole document, after the prolog", () => {
    const doc = `<?xml version="1.0"?>\n<!-- prolog -->\n<domain>\n  <devices>\n  </domain>`;
    const result = tokenize(encoder.encode(doc));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.error.code, "mismatched-end-tag");
    assert.equal(result.error.offset, doc.indexOf("</domain>"));
    assert.deepEqual([result.error.line, result.error.column], [5, 3]);
    assert.match(result.error.message, /<devices> opened at 4:3/);
  });

  test("an undeclared entity before a body error is the error reported", () => {
    const doc = `<a>\n&undeclared;\n<b></c></a>`;
    const result = tokenize(encoder.encode(doc));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.notEqual(result.error.code, "mismatched-end-tag");
    assert.equal(result.error.offset, doc.indexOf("&undeclared;"));
    assert.deepEqual([result.error.line, result.error.column], [2, 1]);
  });

  test("a body error before an undeclared entity is the error reported", () => {
    const doc = `<a>\n<b></c>\n&undeclared;</a>`;
    const result = tokenize(encoder.encode(doc));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.error.code, "mismatched-end-tag");
    assert.equal(result.error.offset, doc.indexOf("</c>"));
  });

  test("an undeclared entity in an otherwise well-formed document is rejected", () => {
    const doc = `<a x="&nope;"/>`;
    const result = tokenize(encoder.encode(doc));
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.error.offset, 6);
  });

  test("an entity declared in the internal subset is accepted", () => {
    const doc = `<!DOCTYPE a [<!ENTITY yes "ok">]><a x="&yes;">&yes;</a>`;
    assert.equal(tokenize(encoder.encode(doc)).ok, true);
  });

  test("input over maxBytes is rejected as too-large before scanning", () => {
    const result = tokenize(encoder.encode("<a>0123456789</a>"), { limits: { maxBytes: 10 } });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.error.code, "too-large");
    assert.match(result.error.message, /17 bytes.*10 bytes/);
    assert.equal(tokenize(encoder.encode("<a>0123456789</a>"), { limits: { maxBytes: 17 } }).ok, true);
  });

  test("partial limits override only what they name", () => {
    const deep = encoder.encode("<a>".repeat(2000) + "</a>".repeat(2000));
    const defaults = tokenize(deep);
    assert.equal(defaults.ok, false);
    if (!defaults.ok) assert.equal(defaults.error.code, "too-deep");
    assert.equal(tokenize(deep, { limits: { maxDepth: 2000 } }).ok, true);
    const few = tokenize(encoder.encode("<a><b/><b/></a>"), { limits: { maxTokens: 3 } });
    assert.equal(few.ok, false);
    if (!few.ok) assert.deepEqual([few.error.code, few.error.offset], ["too-many-tokens", 11]);
  });

  test("200,000 nested elements are an error value, not a stack overflow", () => {
    const deep = encoder.encode("<a>".repeat(200_000) + "</a>".repeat(200_000));
    const result = tokenize(deep);
    assert.equal(result.ok, false);
    if (!result.ok) assert.deepEqual([result.error.code, result.error.line, result.error.column], ["too-deep", 1, 3 * 1024 + 1]);
  });

  test("a document with no root element is rejected", () => {
    const result = tokenize(encoder.encode(`<?xml version="1.0"?>\n<!-- nothing -->\n`));
    assert.equal(result.ok, false);
  });
});

describe("check", () => {
  test("accepts a well-formed string, encoding it as UTF-8", () => {
    assert.deepEqual(check(`<données clé="é">日本</données>`), { ok: true });
  });

  test("accepts well-formed bytes", () => {
    assert.deepEqual(check(encoder.encode("<a/>")), { ok: true });
  });

  test("rejects with the same error tokenize gives, columns counted in characters", () => {
    const result = check(`<é>\n  <b x="1" x="2"/></é>`);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.error.code, "duplicate-attribute");
    assert.deepEqual([result.error.line, result.error.column], [2, 12]);
    assert.match(result.error.message, /'x' \(first at 2:6\)/);
  });

  test("passes limits through", () => {
    const result = check("<a><b/></a>", { limits: { maxDepth: 1 } });
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.error.code, "too-deep");
  });
});

describe("check on UTF-16 input", () => {
  const utf16 = (text: string, littleEndian: boolean): Uint8Array => {
    const out = new Uint8Array(2 + text.length * 2);
    const view = new DataView(out.buffer);
    view.setUint16(0, 0xfeff, littleEndian);
    for (let i = 0; i < text.length; i++) view.setUint16(2 + 2 * i, text.charCodeAt(i), littleEndian);
    return out;
  };

  test("accepts a well-formed UTF-16LE and UTF-16BE document", () => {
    assert.deepEqual(check(utf16(`<?xml version="1.0" encoding="UTF-16"?><a>é</a>`, true)), { ok: true });
    assert.deepEqual(check(utf16(`<a>日本</a>`, false)), { ok: true });
  });

  test("rejects an ill-formed UTF-16 document with its line and column", () => {
    const result = check(utf16(`<a>\n<b></a>`, true));
    assert.equal(result.ok, false);
    if (!result.ok) assert.deepEqual([result.error.code, result.error.line, result.error.column], ["mismatched-end-tag", 2, 4]);
  });
});

describe("check() on strings", () => {
  test("a string declaring UTF-16 is judged as text, not as mismatched bytes", () => {
    assert.deepEqual(check(`<?xml version="1.0" encoding="UTF-16"?><a/>`), { ok: true });
  });
});

describe("TokenTableBuilder", () => {
  test("a builder made with no capacity still grows as tokens are pushed", () => {
    const table = new TokenTableBuilder(0);
    for (let i = 0; i < 100; i++) assert.equal(table.push(TokenKind.Text, i, i + 1, 0, -1), i);
    assert.equal(table.count, 100);
    assert.equal(table.end[99], 100);
  });
});
