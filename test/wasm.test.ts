// The WASM body kernel (assembly/scan.ts via src/xml/wasm.ts) against the TypeScript reference
// (src/xml/scan.ts): both must append the same tokens and entity references and return the
// same (code, offset, aux) on every corpus file and on fast-check generated and mutated
// documents (byte flips, truncations, insertions, deletions, deep nesting, tight limits).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import path from "node:path";
import fc from "fast-check";
import { scanBody, type ScanResult } from "../src/xml/scan.ts";
import { scanBodyWasm, releaseLentTable, wasmTableLent, lentSingleQuotedAttributes, WASM_KERNEL_LOAD_AFTER_BYTES } from "../src/xml/wasm.ts";
import { DEFAULT_LIMITS, EntityRefList, TokenKind, TokenTableBuilder, type Limits } from "../src/xml/tokens.ts";
import { ScanError } from "../src/xml/errors.ts";
import { tokenize, tokenizeLent, type TokenizeResult } from "../src/xml/tokenizer.ts";
import { corpus, domainCorpusFiles, repoRoot } from "./corpus-files.ts";

const encoder = new TextEncoder();

interface Run {
  result: ScanResult;
  table: TokenTableBuilder;
  refs: EntityRefList;
}

/** Runs one kernel the way tokenize() does: after `prologTokens` tokens already in the table. */
function run(kernel: typeof scanBody, bytes: Uint8Array, from: number, limits: Limits, prologTokens: number): Run {
  const table = new TokenTableBuilder(4);
  // Stand-ins for the prolog's tokens, so absolute indices (links, root) are exercised.
  for (let k = 0; k < prologTokens; k++) table.push(TokenKind.Comment, 0, 0, 0, -1);
  const refs = new EntityRefList();
  const result = kernel(bytes, from, table, refs, limits);
  return { result, table, refs };
}

/** Asserts both kernels agree on `bytes` scanned from `from`; returns the reference's run. */
function assertAgree(bytes: Uint8Array, from: number, limits: Limits = DEFAULT_LIMITS, prologTokens = 0, label = ""): Run {
  const ts = run(scanBody, bytes, from, limits, prologTokens);
  const wasm = run(scanBodyWasm, bytes, from, limits, prologTokens);
  const where = `${label} (from ${from}, ${bytes.length} bytes)`;
  assert.deepEqual(
    [wasm.result.error, wasm.result.offset, wasm.result.aux],
    [ts.result.error, ts.result.offset, ts.result.aux],
    `scan result (code, offset, aux) ${where}`,
  );
  assert.ok(ts.result.error >= ScanError.None && ts.result.error <= ScanError.NoRootElement, `known error code ${where}`);
  assert.ok(ts.result.offset >= 0 && ts.result.offset <= bytes.length, `error offset inside the input ${where}`);
  assert.equal(wasm.table.count, ts.table.count, `token count ${where}`);
  assert.equal(wasm.table.root, ts.table.root, `root index ${where}`);
  const count = ts.table.count;
  const columns = ["kind", "start", "end", "mid", "link"] as const;
  for (const column of columns) {
    const a = ts.table[column].subarray(0, count);
    const b = wasm.table[column].subarray(0, count);
    if (!equalArrays(a, b)) {
      let k = 0;
      while (a[k] === b[k]) k++;
      assert.fail(`token ${k} ${column}: wasm ${b[k]}, ts ${a[k]} ${where}`);
    }
  }
  assert.equal(wasm.refs.count, ts.refs.count, `entity reference count ${where}`);
  const refCount = ts.refs.count;
  assert.deepEqual(Array.from(wasm.refs.start.subarray(0, refCount)), Array.from(ts.refs.start.subarray(0, refCount)), `ref starts ${where}`);
  assert.deepEqual(Array.from(wasm.refs.end.subarray(0, refCount)), Array.from(ts.refs.end.subarray(0, refCount)), `ref ends ${where}`);
  assert.deepEqual(
    Array.from(wasm.refs.inAttribute.subarray(0, refCount)),
    Array.from(ts.refs.inAttribute.subarray(0, refCount)),
    `ref places ${where}`,
  );
  return ts;
}

function equalArrays(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Offset of the root element's '<', skipping an XML declaration, comments, PIs and a DOCTYPE
 * (its internal subset by bracket matching outside quotes). Only needs to be plausible: both
 * kernels get the same offset, and scans from 0 are compared as well.
 */
function rootOffset(bytes: Uint8Array): number {
  const s = new TextDecoder("latin1").decode(bytes);
  let i = 0;
  while (true) {
    i = s.indexOf("<", i);
    if (i < 0) return 0;
    const at = i;
    if (s.startsWith("<?", i)) i = s.indexOf("?>", i + 2) + 2;
    else if (s.startsWith("<!--", i)) i = s.indexOf("-->", i + 4) + 3;
    else if (s.startsWith("<!DOCTYPE", i)) {
      let j = i + 9;
      let depth = 0;
      let quote = "";
      for (; j < s.length; j++) {
        const c = s[j];
        if (quote !== "") {
          if (c === quote) quote = "";
        } else if (c === '"' || c === "'") quote = c;
        else if (c === "[") depth++;
        else if (c === "]") depth--;
        else if (c === ">" && depth === 0) break;
      }
      i = j + 1;
    } else return i;
    if (i <= at) return at; // unterminated: scan from there

  }
}


const domainFiles = domainCorpusFiles();
const w3cFiles = readFileSync(path.join(corpus, "xmlconf", "SELECTION.tsv"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => path.join(corpus, "xmlconf", line.split("\t")[1]));

describe("WASM kernel agrees with the TypeScript scanner on the corpora", () => {
  test("every libvirt, KubeVirt and tricky corpus file: same tokens, refs and result", () => {
    assert.ok(domainFiles.length > 250, `found the domain corpus (${domainFiles.length} files)`);
    let tokens = 0;
    for (const file of domainFiles) {
      const bytes = readFileSync(file);
      const ts = assertAgree(bytes, rootOffset(bytes), DEFAULT_LIMITS, 2, file);
      assert.equal(ts.result.error, ScanError.None, `${file} scans without error`);
      tokens += ts.table.count;
      assertAgree(bytes, 0, DEFAULT_LIMITS, 0, file);
    }
    assert.ok(tokens > 10000);
  });

  test("every W3C conformance file in SELECTION.tsv: same tokens, refs and result", () => {
    assert.ok(w3cFiles.length > 1000, `found the W3C selection (${w3cFiles.length} files)`);
    const outcomes = new Map<number, number>();
    for (const file of w3cFiles) {
      const bytes = readFileSync(file);
      const ts = assertAgree(bytes, rootOffset(bytes), DEFAULT_LIMITS, 1, file);
      outcomes.set(ts.result.error, (outcomes.get(ts.result.error) ?? 0) + 1);
      assertAgree(bytes, 0, DEFAULT_LIMITS, 0, file);
    }
    // The selection exercises many error paths, not just success.
    assert.ok(outcomes.size >= 10, `distinct scan outcomes: ${[...outcomes.keys()].join(", ")}`);
  });
});

function sameOutcome(ts: TokenizeResult, wasm: TokenizeResult, label: string): void {
  assert.equal(wasm.ok, ts.ok, `${label}: accepted by both or neither`);
  if (!ts.ok || !wasm.ok) {
    assert.deepEqual(wasm.ok ? null : wasm.error, ts.ok ? null : ts.error, `${label}: same error`);
    return;
  }
  const count = ts.table.count;
  assert.equal(wasm.table.count, count, `${label}: token count`);
  assert.equal(wasm.table.root, ts.table.root, `${label}: root`);
  for (const column of ["kind", "start", "end", "mid", "link"] as const) {
    assert.ok(equalArrays(wasm.table[column].subarray(0, count), ts.table[column].subarray(0, count)), `${label}: ${column}`);
  }
}

describe("tokenize() gives the same answer with either kernel", () => {
  test("every corpus file and W3C case, through the real prolog and DTD checks", () => {
    for (const file of [...domainFiles, ...w3cFiles]) {
      const bytes = readFileSync(file);
      sameOutcome(tokenize(bytes, { kernel: "ts" }), tokenize(bytes, { kernel: "wasm" }), file);
    }
  });

  test("kernel \"auto\" (the default) agrees with both at small and large sizes", () => {
    for (const bytes of [readFileSync(path.join(corpus, "kubevirt", "domain.xml")), repeatedDomain(64 * 1024)]) {
      const auto = tokenize(bytes);
      sameOutcome(tokenize(bytes, { kernel: "ts" }), auto, `auto, ${bytes.length} bytes`);
      sameOutcome(tokenize(bytes, { kernel: "wasm" }), auto, `auto, ${bytes.length} bytes`);
    }
  });
});

describe("a lent table (tokenizeLent: views onto the kernel's memory)", () => {
  test("is the same table, and tokenize calls while it is lent neither change it nor fail", () => {
    const bytes = repeatedDomain(64 * 1024);
    const lent = tokenizeLent(bytes, { kernel: "wasm" });
    try {
      assert.ok(wasmTableLent(), "the WASM kernel ran and lent its arrays");
      sameOutcome(tokenize(bytes, { kernel: "ts" }), lent, "lent table");
      assert.ok(lent.ok);
      const snapshot = (["kind", "start", "end", "mid", "link"] as const).map((column) => lent.table[column].slice(0, lent.table.count));
      // What plan.ts does while it holds the table: tokenize fragments and whole documents,
      // larger ones too (a scan there would have to grow the memory and detach the views).
      for (const other of [readFileSync(path.join(corpus, "kubevirt", "domain.xml")), repeatedDomain(1 << 20)]) {
        for (const kernel of ["wasm", "auto"] as const) {
          sameOutcome(tokenize(other, { kernel: "ts" }), tokenize(other, { kernel }), `nested ${kernel}, ${other.length} bytes`);
          sameOutcome(tokenize(other, { kernel: "ts" }), tokenizeLent(other, { kernel }), `nested lending ${kernel}, ${other.length} bytes`);
        }
      }
      (["kind", "start", "end", "mid", "link"] as const).forEach((column, c) => {
        assert.ok(equalArrays(lent.table[column].subarray(0, lent.table.count), snapshot[c]), `lent ${column} unchanged`);
      });
    } finally {
      releaseLentTable();
    }
    assert.ok(!wasmTableLent());
    sameOutcome(tokenize(bytes, { kernel: "ts" }), tokenize(bytes, { kernel: "wasm" }), "after release");
  });

  test("tells how many attribute values are quoted with ' (style.ts's quote), only for its own input", () => {
    const cases: Array<[string, number]> = [
      [`<a x="1" y="it's"><b z="2"/></a>`, 0],
      [`<a x='1' y="2"><b z='a "long" value past one vector'/><c w = '3'/></a>`, 3],
      [`<?xml version='1.0'?><!DOCTYPE a [<!ATTLIST a x CDATA '1'>]><a>'</a>`, 0],
    ];
    for (const [text, apos] of cases) {
      const bytes = encoder.encode(text);
      const expected = tokenize(bytes, { kernel: "ts" });
      assert.ok(expected.ok);
      const counted = Array.from(expected.table.kind.subarray(0, expected.table.count)).filter((k, i) => k === TokenKind.Attribute && bytes[expected.table.end[i] - 1] === 0x27).length;
      assert.equal(counted, apos, text);
      const lent = tokenizeLent(bytes, { kernel: "wasm" });
      try {
        assert.ok(lent.ok && wasmTableLent());
        assert.equal(lentSingleQuotedAttributes(bytes), apos, text);
        assert.equal(lentSingleQuotedAttributes(bytes.slice()), -1, "another array, even with the same bytes");
      } finally {
        releaseLentTable();
      }
      assert.equal(lentSingleQuotedAttributes(bytes), -1, "nothing lent");
    }
  });

  test("reuses its views for inputs of one size class only while they still show the right memory", () => {
    const a = encoder.encode(`<a x="1"><b/>${"t".repeat(900)}</a>`);
    const b = encoder.encode(`<a><c y='2' z="3"/>${"u".repeat(896)}</a>`);
    const big = repeatedDomain(5 << 20); // grows the kernel's memory: the old buffer is detached
    for (const bytes of [a, b, a, big, b, a]) {
      if (bytes === big) {
        // Not lent: the views of the lending scans before stay cached across the grow.
        sameOutcome(tokenize(bytes, { kernel: "ts" }), tokenize(bytes, { kernel: "wasm" }), "grown");
        continue;
      }
      const lent = tokenizeLent(bytes, { kernel: "wasm" });
      try {
        sameOutcome(tokenize(bytes, { kernel: "ts" }), lent, `lent, ${bytes.length} bytes`);
      } finally {
        releaseLentTable();
      }
    }
  });

  test("a lending call that fails lends nothing", () => {
    const broken = encoder.encode("<a>" + "<b x='1'/>".repeat(200) + "</c>");
    const result = tokenizeLent(broken, { kernel: "wasm" });
    assert.equal(result.ok, false);
    assert.ok(!wasmTableLent());
  });
});

describe("WASM kernel sizes its memory like the reference sizes its table", () => {
  test("a 1 MB domain (devices repeated) agrees, and a second scan of a small one after it too", () => {
    const bytes = repeatedDomain(1 << 20);
    const ts = assertAgree(bytes, 0, DEFAULT_LIMITS, 0, "1 MB domain");
    assert.equal(ts.result.error, ScanError.None);
    const small = readFileSync(path.join(corpus, "kubevirt", "domain.xml"));
    assertAgree(small, 0, DEFAULT_LIMITS, 0, "domain.xml after the 1 MB one");
  });

  test("more tokens than the first guess (one per 2.5 bytes) and many entity references", () => {
    const dense = "<r>" + "<b/>x".repeat(20000) + "&e1;".repeat(5000) + "<c a='&e2;&e3;'/>".repeat(300) + "</r>";
    const ts = assertAgree(encoder.encode(dense), 0, DEFAULT_LIMITS, 3, "dense");
    assert.equal(ts.result.error, ScanError.None);
    assert.ok(ts.table.count > 40000 && ts.refs.count === 5600);
  });

  test("the token limit is hit at the same offset", () => {
    const dense = encoder.encode("<r>" + "<b x='1' y='2'/>".repeat(2000) + "</r>");
    for (const maxTokens of [1, 2, 3, 100, 1001, 5000]) {
      const ts = assertAgree(dense, 0, { ...DEFAULT_LIMITS, maxTokens }, 0, `maxTokens ${maxTokens}`);
      assert.equal(ts.result.error, ScanError.TooManyTokens);
    }
  });
});

describe("WASM kernel's one-vector paths agree at every offset of their 16-byte window", () => {
  // The kernel reads `name="value"` and end tags from one 16-byte load where it can, and
  // resumes a value that runs past the window from the window's end: every name length,
  // value length, quote and stopping byte around that boundary must give the reference's
  // tokens and errors.
  test("attributes: names of 1-17 bytes, values of 0-20 with a stop byte at each place", () => {
    const stops = ["", "&amp;", "&e;", "<", "é", "\u0001", "'", '"', "&#x41;", " ", "\t", "\n", "\r", "\r\n"];
    let cases = 0;
    for (let nameLength = 1; nameLength <= 17; nameLength++) {
      const name = "abcdefghijklmnopq".slice(0, nameLength);
      for (const quote of ['"', "'"]) {
        for (let valueLength = 0; valueLength <= 20; valueLength++) {
          for (const stop of stops) {
            for (let at = 0; at <= valueLength; at += stop === "" ? valueLength + 1 : 1) {
              const value = "v".repeat(at) + stop + "w".repeat(valueLength - at);
              const tail = ` z=${quote}1${quote}></e>`;
              for (const doc of [`<e ${name}=${quote}${value}${quote}${tail}`, `<e ${name}=${quote}${value}`, `<e ${name} = ${quote}${value}${quote}/>`]) {
                assertAgree(encoder.encode(doc), 0, DEFAULT_LIMITS, 0, `attribute ${JSON.stringify(doc)}`);
                cases++;
              }
            }
          }
        }
      }
    }
    assert.ok(cases > 10000);
  });

  test("text: tab, LF, CR, other control bytes, '&', ']]>' and non-ASCII at every offset of a 16-byte window", () => {
    const stops = ["\t", "\n", "\r", "\r\n", "\u0001", "\u000b", "\u001f", "&amp;", "&e;", "]]>", "]", "é", "\ud83d\ude00", "\u00ff"];
    let cases = 0;
    for (let length = 0; length <= 34; length++) {
      for (const stop of stops) {
        for (let at = 0; at <= length; at++) {
          const text = "t".repeat(at) + stop + "u".repeat(length - at);
          for (const doc of [`<e>${text}</e>`, `<e><f/>${text}<g/></e>`, `<e>${text}`]) {
            assertAgree(encoder.encode(doc), 0, DEFAULT_LIMITS, 0, `text ${JSON.stringify(doc)}`);
            cases++;
          }
        }
      }
    }
    assert.ok(cases > 10000);
  });

  test("duplicate attributes after 0-6 others; names alike in length, first and last byte are not duplicates", () => {
    const names = ["abc", "axc", "a", "abbc", "acbc", "xml:c", "x-y", "x.y"];
    for (let before = 0; before <= 6; before++) {
      for (const name of names) {
        for (const other of names) {
          const attrs = names.slice(0, before).map((n, k) => ` ${n}${k}="v"`).join("");
          for (const doc of [`<e${attrs} ${name}="1" ${other}='2'/>`, `<e${attrs} ${name}="1"\n${other} = "22"></e>`]) {
            assertAgree(encoder.encode(doc), 0, DEFAULT_LIMITS, 0, `duplicates ${JSON.stringify(doc)}`);
          }
        }
      }
    }
  });

  test("end tags: names of 1-17 bytes, matching or not, closed by '>', space or something else", () => {
    for (let nameLength = 1; nameLength <= 17; nameLength++) {
      const name = "abcdefghijklmnopq".slice(0, nameLength);
      for (const close of [">", " >", "\n>", "x>", "", "é>", "/>", ":>"]) {
        for (const other of [name, name.slice(0, -1), name + "b", name.slice(0, -1) + "Z"]) {
          const doc = `<${name}>t</${other}${close}`;
          assertAgree(encoder.encode(doc), 0, DEFAULT_LIMITS, 0, `end tag ${JSON.stringify(doc)}`);
        }
      }
    }
  });

  test("empty elements written <x></x> (the end tag read with the start tag): names of 1-17 bytes, matching or not", () => {
    for (let nameLength = 1; nameLength <= 17; nameLength++) {
      const name = "abcdefghijklmnopq".slice(0, nameLength);
      for (const close of [">", " >", "\n>", "x>", "", "é>", "/>", ":>"]) {
        for (const other of [name, name.slice(0, -1), name + "b", name.slice(0, -1) + "Z"]) {
          for (const open of [`<${name}>`, `<${name} a="1">`, `<${name}  b='2' >`]) {
            const element = `${open}</${other}${close}`;
            for (const doc of [element, `<r>${element}</r>`, `<r>${element}<s></s>t</r>`]) {
              assertAgree(encoder.encode(doc), 0, DEFAULT_LIMITS, 2, `empty element ${JSON.stringify(doc)}`);
            }
          }
        }
      }
    }
    // The token limit falls before, on or after such an end tag.
    for (let maxTokens = 1; maxTokens <= 7; maxTokens++) {
      assertAgree(encoder.encode(`<r><a b="1"></a><c></c></r>`), 0, { ...DEFAULT_LIMITS, maxTokens }, 0, `maxTokens ${maxTokens}`);
    }
  });
});

test("ScanError numbers in assembly/codes.ts equal src/xml/errors.ts", () => {
  // ScanError is a const enum (no object at run time under tsc), so both sides are read as source.
  const kernelSource = readFileSync(path.join(repoRoot, "assembly", "codes.ts"), "utf8");
  const kernel = new Map<string, number>();
  for (const match of kernelSource.matchAll(/export const (\w+): i32 = (\d+);/g)) kernel.set(match[1], Number(match[2]));
  const errorsSource = readFileSync(path.join(repoRoot, "src", "xml", "errors.ts"), "utf8");
  const body = /export const enum ScanError \{([^}]*)\}/.exec(errorsSource);
  assert.ok(body, "errors.ts declares ScanError");
  const reference = [...body[1].matchAll(/^\s*(\w+) = (\d+),/gm)].map((m) => [m[1], Number(m[2])] as const);
  assert.ok(reference.length >= 24, `ScanError members found: ${reference.length}`);
  assert.equal(ScanError.NoRootElement, reference.find(([name]) => name === "NoRootElement")?.[1], "source and run-time value agree");
  for (const [name, value] of reference) assert.equal(kernel.get(name), value, `ScanError.${name}`);
  // The kernel's own codes must not collide with the shared ones.
  const shared = new Map(reference.map(([name, value]) => [value, name]));
  for (const [name, value] of kernel) {
    if (shared.get(value) !== undefined) assert.equal(shared.get(value), name, `kernel code ${name} = ${value}`);
  }
});

// ---- fuzzing ----

function repeatedDomain(size: number): Uint8Array {
  const src = readFileSync(path.join(corpus, "kubevirt", "domain.xml"), "utf8");
  const a = src.indexOf("<devices>") + "<devices>".length;
  const b = src.indexOf("</devices>");
  const children = src.slice(a, b);
  const parts = [src.slice(0, a)];
  let length = src.length;
  while (length < size) {
    parts.push(children);
    length += children.length;
  }
  parts.push(src.slice(b));
  return encoder.encode(parts.join(""));
}

// Mostly well-formed pieces with a few broken ones mixed in, so that documents get deep before
// they fail (or do not fail at all); the mutation tests break them further.
function mostly<T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>, badWeight = 1): fc.Arbitrary<T> {
  return fc.oneof({ weight: 40, arbitrary: good }, { weight: badWeight, arbitrary: bad });
}
const nameArb = mostly(
  fc.constantFrom("a", "b", "disk", "x:y", "_n", "a-b.c", "é", "名前", "a·b", "ab\u0300", "\u{10000}z", "xml", "XmL", "target", "source"),
  fc.constantFrom("1a", "-a", "", "a\u0001", "\u00d7"),
);
const textArb = mostly(
  fc.constantFrom(
    "",
    "hi",
    "\n    ",
    "\r\n",
    "\r",
    "\t",
    " a ]] b ",
    "]",
    "]]",
    "]>",
    "&amp;",
    "&lt;&gt;&quot;&apos;",
    "&ent;",
    "&x:y;",
    "&#65;",
    "&#x1F600;",
    "&#x10FFFF;",
    "é€😀",
    "\u007f",
    ">",
    "'\"",
    "-",
    "--",
    "?",
    "?>",
    "x".repeat(40),
  ),
  fc.constantFrom("]]>", "&#0;", "&#xD800;", "&#x110000;", "&#99999999999;", "&#;", "&#x;", "&;", "& ", "&a", "\u0001", "\uFFFE", "\uFFFF", "<"),
  3,
);
const attrValueArb = mostly(
  fc.constantFrom("", "v", "a b", "&amp;", "&e;", "&#x41;", "&quot;&apos;", "\n", "\t\r", "é", "]]>", "x".repeat(33)),
  fc.constantFrom("<", "&bad", "\u0002", "&#1;", "'", '"'),
);
const commentArb = mostly(fc.constantFrom("<!-- c -->", "<!---->", "<!-- a-b -->", "<!--é-->"), fc.constantFrom("<!-- -- -->", "<!-- --->", "<!-\u0001-->"), 4);
const piArb = mostly(fc.constantFrom("<?pi data?>", "<?pi?>", "<?pi ??>", "<?pi\tx ?>", "<?xml-stylesheet x?>"), fc.constantFrom("<?xml x?>", "<?pi?x?>", "<?1?>"), 4);
const cdataArb = mostly(fc.constantFrom("<![CDATA[x]]>", "<![CDATA[]]]]>", "<![CDATA[<&]]>", "<![CDATA[]>]]>"), fc.constantFrom("<![cdata[x]]>", "<![CDATA[\u0000]]>"), 4);

const docArb: fc.Arbitrary<string> = fc.letrec((tie) => ({
  element: fc
    .tuple(
      nameArb,
      fc.array(fc.tuple(nameArb, fc.constantFrom('"', "'"), attrValueArb, fc.constantFrom("", " ", "\n")), { maxLength: 4 }),
      fc.array(tie("content"), { maxLength: 7, depthIdentifier: "xml" }),
      fc.boolean(),
      fc.constantFrom("", " ", "\n"),
    )
    .map(([name, attrs, children, empty, space]) => {
      const attrText = attrs.map(([an, q, v, s]) => ` ${an}${s}=${s}${q}${v}${q}`).join("");
      if (empty && children.length === 0) return `<${name}${attrText}${space}/>`;
      return `<${name}${attrText}${space}>${children.join("")}</${name}${space}>`;
    }),
  // Past maxDepth oneof takes its first arbitrary (text), which bounds the recursion.
  content: fc.oneof(
    { maxDepth: 8, depthIdentifier: "xml" },
    { weight: 3, arbitrary: textArb },
    { weight: 4, arbitrary: tie("element") as fc.Arbitrary<string> },
    { weight: 1, arbitrary: commentArb },
    { weight: 1, arbitrary: piArb },
    { weight: 1, arbitrary: cdataArb },
    { weight: 1, arbitrary: mostly(fc.constant(""), fc.constantFrom("<!DOCTYPE x>", "<!ELEMENT>", "<!x>", "</>", "< a>"), 4) },
  ),
})).element.chain((root) =>
  fc.tuple(fc.constantFrom("", "\n", "<!-- after -->", "<?pi?>", "x", "<b/>", " \n<!-- a --><?p?>\n"), fc.constant(root)).map(([tail, r]) => r + tail),
);

/** Nested `depth` deep, optionally unbalanced, to exercise the depth limit and the open-element stack. */
const deepArb = fc
  .tuple(fc.integer({ min: 1, max: 1500 }), fc.constantFrom("a", "é", "bb"), fc.boolean())
  .map(([depth, name, balanced]) => `<${name}>`.repeat(depth) + "t" + `</${name}>`.repeat(balanced ? depth : depth - 1));

const snippets = ["<", ">", "&", ";", "]]>", "--", "<!--", "<![CDATA[", "<?", "?>", "/>", "</", "'", '"', "=", " ", "\r", "\u0000", "\u00e9", "#x", "é"].map((s) =>
  encoder.encode(s),
);

/** A byte-level edit: flip, overwrite, truncate, insert, delete or duplicate a span. */
const mutationArb = fc.tuple(fc.integer({ min: 0, max: 5 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: snippets.length - 1 }));

function mutate(bytes: Uint8Array, edits: Array<[number, number, number, number, number]>): Uint8Array {
  let b = bytes;
  for (const [op, at, len, byte, snippet] of edits) {
    const p = b.length === 0 ? 0 : at % (b.length + 1);
    const span = Math.min(len % 8, b.length - p);
    if (op === 0 && p < b.length) {
      b = b.slice();
      b[p] ^= 1 << (byte & 7);
    } else if (op === 1 && p < b.length) {
      b = b.slice();
      b[p] = byte;
    } else if (op === 2) {
      b = b.slice(0, p);
    } else if (op === 3) {
      const ins = snippets[snippet];
      const out = new Uint8Array(b.length + ins.length);
      out.set(b.subarray(0, p));
      out.set(ins, p);
      out.set(b.subarray(p), p + ins.length);
      b = out;
    } else if (op === 4) {
      const out = new Uint8Array(b.length - span);
      out.set(b.subarray(0, p));
      out.set(b.subarray(p + span), p);
      b = out;
    } else {
      const out = new Uint8Array(b.length + span);
      out.set(b.subarray(0, p + span));
      out.set(b.subarray(p, p + span), p + span);
      out.set(b.subarray(p + span), p + 2 * span);
      b = out;
    }
  }
  return b;
}

const limitsArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(DEFAULT_LIMITS as Limits) },
  {
    weight: 1,
    arbitrary: fc.record({ maxBytes: fc.constant(DEFAULT_LIMITS.maxBytes), maxDepth: fc.integer({ min: 1, max: 12 }), maxTokens: fc.integer({ min: 1, max: 60 }) }),
  },
);

const corpusSamples = [
  path.join(corpus, "kubevirt", "domain.xml"),
  path.join(corpus, "tricky", "tricky.xml"),
  path.join(corpus, "tricky", "tricky-extra.xml"),
  ...domainFiles.filter((_, k) => k % 40 === 0),
].map((file) => readFileSync(file));

describe("WASM kernel agrees with the TypeScript scanner on fuzzed input", () => {
  test("4,000 generated documents, as generated and from a random offset", () => {
    let rejected = 0;
    let totalBytes = 0;
    const seen = new Map<number, number>();
    fc.assert(
      fc.property(docArb, limitsArb, fc.nat(), (doc, limits, fromSeed) => {
        const bytes = encoder.encode(doc);
        const code = assertAgree(bytes, 0, limits, fromSeed % 3).result.error;
        if (code !== ScanError.None) rejected++;
        seen.set(code, (seen.get(code) ?? 0) + 1);
        totalBytes += bytes.length;
        assertAgree(bytes, fromSeed % (bytes.length + 1), limits, 0);
      }),
      { numRuns: 4000 },
    );
    assert.ok(rejected > 100 && rejected < 4000, `both accepted and rejected documents (${rejected} rejected)`);
    const byCode = [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([code, count]) => `${code}:${count}`);
    console.log(`generated documents by scan result (ScanError:count): ${byCode.join(" ")}; mean size ${Math.round(totalBytes / 4000)} bytes`);
  });

  test("5,000 generated documents with byte flips, overwrites, truncations, insertions, deletions", () => {
    fc.assert(
      fc.property(docArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), limitsArb, (doc, edits, limits) => {
        assertAgree(mutate(encoder.encode(doc), edits), 0, limits);
      }),
      { numRuns: 5000 },
    );
  });

  test("1,500 mutated corpus files", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: corpusSamples.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 6 }), (k, edits) => {
        const bytes = mutate(corpusSamples[k], edits);
        assertAgree(bytes, rootOffset(bytes), DEFAULT_LIMITS, 1);
      }),
      { numRuns: 1500 },
    );
  });

  test("500 deeply nested documents, mutated or not, against depth limits", () => {
    fc.assert(
      fc.property(deepArb, fc.array(mutationArb, { maxLength: 2 }), fc.constantFrom(1, 7, 1024, 2000), (doc, edits, maxDepth) => {
        assertAgree(mutate(encoder.encode(doc), edits), 0, { ...DEFAULT_LIMITS, maxDepth });
      }),
      { numRuns: 500 },
    );
  });
});

describe("auto kernel loading policy (fresh processes)", () => {
  // Each case runs in its own process, since loading is once per process.
  const probe = (sizes: string) => `
    import { tokenize } from ${JSON.stringify(new URL("../src/xml/tokenizer.ts", import.meta.url).href)};
    import { wasmKernelLoaded } from ${JSON.stringify(new URL("../src/xml/wasm.ts", import.meta.url).href)};
    const doc = (n) => new TextEncoder().encode("<a>" + "<b>x</b>".repeat(Math.ceil(n / 8)) + "</a>");
    const seen = [];
    for (const n of ${sizes}) { if (!tokenize(doc(n)).ok) throw new Error("not ok"); seen.push(wasmKernelLoaded()); }
    console.log(JSON.stringify(seen));`;
  const run = (sizes: string): boolean[] =>
    JSON.parse(execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", probe(sizes)], { encoding: "utf8" }));

  test("a few small documents stay on the TS kernel (the module is not loaded)", () => {
    assert.deepEqual(run("[8000, 8000, 8000]"), [false, false, false]);
  });
  test("one large document loads the module at once", () => {
    assert.deepEqual(run("[40000]"), [true]);
  });
  test("small documents load it once the TS kernel has scanned 1 MiB in all", () => {
    const seen = run("Array(140).fill(8000)");
    const docBytes = "<a>".length + 1000 * "<b>x</b>".length + "</a>".length;
    // Calls 0..k-1 run on TS until their sum reaches 1 MiB; the next call loads the module.
    const firstLoaded = Math.ceil(WASM_KERNEL_LOAD_AFTER_BYTES / docBytes);
    assert.equal(seen.indexOf(true), firstLoaded);
    assert.ok(seen.slice(firstLoaded).every(Boolean));
  });
});
