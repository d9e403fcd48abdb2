// Losslessness on real documents: every libvirt, KubeVirt and tricky corpus file survives an
// empty patch byte for byte, and a real edit changes only the bytes of the edited region
// (checked by diffing input and output), while the output stays well-formed for both our
// check() and libxml2's xmllint.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { patch, tokenize, check } from "../src/index.ts";
import { TokenKind, type TokenTable } from "../src/xml/tokens.ts";
import { corpus, domainCorpusFiles } from "./corpus-files.ts";



const files = domainCorpusFiles();

function tableOf(bytes: Uint8Array): TokenTable {
  const result = tokenize(bytes);
  if (!result.ok) throw new Error(`${result.error.line}:${result.error.column}: ${result.error.message}`);
  return result.table;
}

/** Length of the common prefix and the common suffix (not overlapping) of two buffers. */
function diffBounds(a: Uint8Array, b: Uint8Array): { prefix: number; suffix: number } {
  let prefix = 0;
  const max = Math.min(a.length, b.length);
  while (prefix < max && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (suffix < max - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;
  return { prefix, suffix };
}

/** The first child element of the root: [tag start, end of its element). */
function firstChildElement(table: TokenTable): { start: number; end: number } | null {
  const root = table.root;
  if (table.kind[root] === TokenKind.EmptyTag) return null;
  for (let i = root + 1; i < table.link[root]; i++) {
    const kind = table.kind[i];
    if (kind === TokenKind.StartTag) return { start: table.start[i], end: table.end[table.link[i]] };
    if (kind === TokenKind.EmptyTag) return { start: table.start[i], end: table.end[i] };
  }
  return null;
}

const decoder = new TextDecoder();
const outputsForXmllint: Array<{ name: string; bytes: Uint8Array }> = [];

describe(`corpus: ${files.length} documents`, () => {
  test("the corpus is there and non-trivial", () => {
    assert.ok(files.length >= 280, `expected the shared corpus under ${corpus}, found ${files.length} files`);
  });

  test("an empty patch returns every document byte for byte", () => {
    for (const file of files) {
      const input = readFileSync(file);
      const output = patch(new Uint8Array(input), []);
      assert.ok(output instanceof Uint8Array);
      assert.equal(Buffer.compare(Buffer.from(output), input), 0, `${file} changed under an empty patch`);
      const asString = patch(input.toString("utf8"), []);
      assert.equal(asString, input.toString("utf8"), `${file} changed under an empty patch (string input)`);
    }
  });

  test("setting a root attribute only inserts bytes inside the root start tag", () => {
    for (const file of files) {
      const input = new Uint8Array(readFileSync(file));
      const table = tableOf(input);
      const output = patch(input, [{ op: "set", path: "/*/@domsplice-edit", value: `a&b"c<d` }]) as Uint8Array;
      const { prefix, suffix } = diffBounds(input, output);
      assert.equal(prefix + suffix, input.length, `${file}: bytes were changed, not only inserted`);
      assert.ok(prefix > table.start[table.root] && prefix < table.end[table.root], `${file}: insertion at ${prefix} outside the root start tag`);
      const inserted = decoder.decode(output.subarray(prefix, output.length - suffix));
      assert.match(inserted, /domsplice-edit=(["'])a&amp;b(&quot;|")c&lt;d\1/, `${file}: inserted ${JSON.stringify(inserted)}`);
      outputsForXmllint.push({ name: `set-${path.basename(file)}`, bytes: output });
    }
  });

  test("appending an element to the root only inserts bytes before the root end tag", () => {
    for (const file of files) {
      const input = new Uint8Array(readFileSync(file));
      const table = tableOf(input);
      const output = patch(input, [{ op: "add", path: "/*", pos: "append", xml: "<domsplice-note>x &amp; y</domsplice-note>" }]) as Uint8Array;
      const { prefix, suffix } = diffBounds(input, output);
      assert.equal(prefix + suffix, input.length, `${file}: bytes were changed, not only inserted`);
      assert.notEqual(table.kind[table.root], TokenKind.EmptyTag, `${file}: corpus roots have content`);
      const rootEndTag = table.start[table.link[table.root]];
      // Between the end of the root's start tag and the start of its end tag; with indentation
      // the insertion may start right after the last child (before trailing whitespace).
      assert.ok(prefix >= table.end[table.root] && prefix <= rootEndTag, `${file}: insertion at ${prefix} outside the root's content`);
      const inserted = decoder.decode(output.subarray(prefix, output.length - suffix));
      assert.ok(inserted.includes("<domsplice-note>x &amp; y</domsplice-note>"), `${file}: inserted ${JSON.stringify(inserted)}`);
      assert.match(inserted.replace("<domsplice-note>x &amp; y</domsplice-note>", ""), /^[ \t\r\n]*$/, `${file}: more than whitespace around the fragment`);
      outputsForXmllint.push({ name: `add-${path.basename(file)}`, bytes: output });
    }
  });

  test("removing the root's first child deletes exactly that element and its line's whitespace", () => {
    let removed = 0;
    for (const file of files) {
      const input = new Uint8Array(readFileSync(file));
      const table = tableOf(input);
      const child = firstChildElement(table);
      const output = patch(input, [{ op: "remove", path: "/*/*[1]" }]) as Uint8Array;
      if (!child) {
        assert.deepEqual(output, input, `${file}: no child element, yet the document changed`);
        continue;
      }
      removed++;
      assert.ok(isDeletionAround(input, output, child), `${file}: output is not the input less the element and whitespace around it`);
      assert.ok(check(output).ok, `${file}: output not well-formed`);
      outputsForXmllint.push({ name: `remove-${path.basename(file)}`, bytes: output });
    }
    assert.ok(removed > 250, `only ${removed} documents had a first child to remove`);
  });

  test("every patched document passes check()", () => {
    assert.ok(outputsForXmllint.length > 800);
    for (const { name, bytes } of outputsForXmllint) {
      const result = check(bytes);
      assert.ok(result.ok, `${name}: ${result.ok ? "" : result.error.message}`);
    }
  });

  test("every patched document passes xmllint", { skip: !hasXmllint() && "xmllint not installed (apt-get install libxml2-utils)" }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), "domsplice-corpus-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const paths = outputsForXmllint.map(({ name, bytes }, i) => {
      const p = path.join(dir, `${i}-${name}`);
      writeFileSync(p, bytes);
      return p;
    });
    for (let i = 0; i < paths.length; i += 200) {
      // xmllint exits non-zero and names file:line on the first malformed file.
      execFileSync("xmllint", ["--noout", "--nonet", ...paths.slice(i, i + 200)], { stdio: ["ignore", "pipe", "pipe"] });
    }
  });
});

/**
 * True when `output` is `input` with one range [a, b) cut out, where [a, b) covers the
 * element and nothing but whitespace besides it.
 */
function isDeletionAround(input: Uint8Array, output: Uint8Array, element: { start: number; end: number }): boolean {
  const removedLength = input.length - output.length;
  if (removedLength < element.end - element.start) return false;
  const isWs = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  for (let a = element.start; a >= 0; a--) {
    if (a < element.start && !isWs(input[a])) break;
    const b = a + removedLength;
    if (b < element.end) break;
    let whitespaceAfter = true;
    for (let i = element.end; i < b; i++) if (!isWs(input[i])) whitespaceAfter = false;
    if (!whitespaceAfter) continue;
    if (Buffer.compare(Buffer.from(input.subarray(0, a)), Buffer.from(output.subarray(0, a))) !== 0) continue;
    if (Buffer.compare(Buffer.from(input.subarray(b)), Buffer.from(output.subarray(a))) === 0) return true;
  }
  return false;
}

function hasXmllint(): boolean {
  try {
    execFileSync("xmllint", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
