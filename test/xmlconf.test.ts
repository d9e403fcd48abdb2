// The W3C XML Conformance Test Suite, as selected in corpus/xmlconf/SELECTION.tsv (XML 1.0 5th
// edition, no external entities, no namespace or XML 1.1 cases): every well-formed case must be
// accepted, and at least 95% of the not-well-formed cases rejected with a line and column.
// The figures are printed and written to bench/results/xmlconf.json for the README.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tokenize } from "../src/xml/tokenizer.ts";
import { toUtf8 } from "../src/xml/encoding.ts";

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const corpus = process.env.DOMSPLICE_CORPUS ?? path.resolve(repoRoot, "../shared/corpus");
const suite = path.join(corpus, "xmlconf");
const selectionPath = path.join(suite, "SELECTION.tsv");

interface Case {
  expect: "accept" | "reject";
  file: string;
}

function readSelection(): Case[] {
  return readFileSync(selectionPath, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [expect, file] = line.split("\t");
      assert.ok(expect === "accept" || expect === "reject", `SELECTION.tsv: unknown verdict '${expect}'`);
      return { expect, file };
    });
}

function judge(file: string, kernel: "auto" | "ts" | "wasm" = "auto") {
  const { utf8 } = toUtf8(new Uint8Array(readFileSync(path.join(suite, file))));
  return tokenize(utf8, { kernel });
}

/** Whether this build has the WASM kernel (tokenize throws for kernel "wasm" when it does not). */
function wasmKernelAvailable(): boolean {
  try {
    tokenize(new TextEncoder().encode("<a/>"), { kernel: "wasm" });
    return true;
  } catch {
    return false;
  }
}

test("W3C conformance suite: well-formed cases accepted, not-well-formed cases rejected with line:column", { skip: !existsSync(selectionPath) && "corpus not found" }, () => {
  const cases = readSelection();
  const acceptCases = cases.filter((c) => c.expect === "accept");
  const rejectCases = cases.filter((c) => c.expect === "reject");
  const wronglyRejected: string[] = [];
  const missed: string[] = [];
  let accepted = 0;
  let rejected = 0;
  for (const c of acceptCases) {
    const result = judge(c.file);
    if (result.ok) accepted++;
    else wronglyRejected.push(`${c.file} ${result.error.line}:${result.error.column} ${result.error.code}: ${result.error.message}`);
  }
  for (const c of rejectCases) {
    const result = judge(c.file);
    if (!result.ok && result.error.line >= 1 && result.error.column >= 1) rejected++;
    else missed.push(c.file);
  }
  const rejectPercent = (100 * rejected) / rejectCases.length;
  const figures = {
    suite: "W3C XML Conformance Test Suite 20130923 (corpus/xmlconf/SELECTION.tsv)",
    accepted,
    acceptCases: acceptCases.length,
    rejected,
    rejectCases: rejectCases.length,
    acceptPercent: Number(((100 * accepted) / acceptCases.length).toFixed(2)),
    rejectPercent: Number(rejectPercent.toFixed(2)),
    missedRejects: missed,
  };
  console.log(`xmlconf: accepted ${accepted}/${acceptCases.length} well-formed, rejected ${rejected}/${rejectCases.length} not-well-formed (${rejectPercent.toFixed(1)}%)`);
  if (missed.length > 0) console.log(`xmlconf: not rejected: ${missed.join(", ")}`);
  mkdirSync(path.join(repoRoot, "bench/results"), { recursive: true });
  writeFileSync(path.join(repoRoot, "bench/results/xmlconf.json"), JSON.stringify(figures, null, 2) + "\n");

  assert.deepEqual(wronglyRejected, [], "well-formed cases rejected");
  assert.ok(rejectPercent >= 95, `only ${rejectPercent.toFixed(1)}% of not-well-formed cases rejected (need >= 95%)`);
});

test("W3C conformance suite: the TS and WASM body kernels give the same verdict and error position on every case", { skip: (!existsSync(selectionPath) && "corpus not found") || (!wasmKernelAvailable() && "WASM kernel not in this build") }, () => {
  const disagreements: string[] = [];
  for (const c of readSelection()) {
    const ts = judge(c.file, "ts");
    const wasm = judge(c.file, "wasm");
    const describe = (r: ReturnType<typeof judge>) => (r.ok ? `ok (${r.table.count} tokens)` : `${r.error.code} at ${r.error.offset}`);
    if (describe(ts) !== describe(wasm)) disagreements.push(`${c.file}: ts ${describe(ts)}, wasm ${describe(wasm)}`);
  }
  assert.deepEqual(disagreements, []);
});

/** First error line xmllint (libxml2) reports per file, for the files it rejects; null when xmllint is missing. */
function xmllintFirstErrorLines(files: string[]): Map<string, number> | null {
  const run = spawnSync("xmllint", ["--noout", ...files], { cwd: suite, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (run.error !== undefined) return null;
  const lines = new Map<string, number>();
  for (const line of run.stderr.split("\n")) {
    const match = /^(.+?\.xml):(\d+): /.exec(line);
    if (match !== null && !lines.has(match[1])) lines.set(match[1], Number(match[2]));
  }
  return lines;
}

test("W3C conformance suite: each rejection names the same line as xmllint's first error", { skip: !existsSync(selectionPath) && "corpus not found" }, (t) => {
  const rejectFiles = readSelection().filter((c) => c.expect === "reject").map((c) => c.file);
  const reference = xmllintFirstErrorLines(rejectFiles);
  if (reference === null) {
    t.skip("xmllint not installed");
    return;
  }
  const differing: string[] = [];
  let compared = 0;
  for (const file of rejectFiles) {
    const expectedLine = reference.get(file);
    if (expectedLine === undefined) continue; // xmllint accepts it (encoding mismatches it lets pass)
    const result = judge(file);
    if (result.ok) continue; // counted by the first test
    compared++;
    if (result.error.line !== expectedLine) differing.push(`${file}: line ${result.error.line}, xmllint line ${expectedLine} (${result.error.message})`);
  }
  console.log(`xmlconf: ${compared - differing.length}/${compared} rejections on the same line as xmllint`);
  assert.ok(compared > 700, `only ${compared} cases compared`);
  assert.deepEqual(differing, []);
});

/**
 * Catalog entries (xmlconf-flattened.xml) outside SELECTION.tsv that are XML 1.0 5th edition
 * and not namespace cases: the ones that need external entities.
 */
function externalEntityCases(): { type: string; file: string }[] {
  const catalog = readFileSync(path.join(suite, "xmlconf-flattened.xml"), "utf8");
  const selected = new Set(readSelection().map((c) => c.file));
  const bases: string[] = [];
  const cases: { type: string; file: string }[] = [];
  for (const match of catalog.matchAll(/<TESTCASES[^>]*?xml:base="([^"]*)"[^>]*>|<\/TESTCASES>|<TEST\s([^>]*)>/g)) {
    if (match[1] !== undefined) bases.push(match[1]);
    else if (match[0] === "</TESTCASES>") bases.pop();
    else {
      const attrs = Object.fromEntries([...match[2].matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));
      if (/NS|1\.1/.test(attrs.RECOMMENDATION ?? "") || attrs.VERSION === "1.1") continue;
      if (attrs.EDITION !== undefined && !attrs.EDITION.split(" ").includes("5")) continue;
      const file = path.posix.normalize(bases.join("") + attrs.URI);
      if (selected.has(file) || !existsSync(path.join(suite, file))) continue;
      cases.push({ type: attrs.TYPE, file });
    }
  }
  return cases;
}

test("W3C conformance suite: well-formed cases that use external entities are accepted without loading them", { skip: !existsSync(path.join(suite, "xmlconf-flattened.xml")) && "catalog not found" }, () => {
  const wellFormed = externalEntityCases().filter((c) => c.type === "valid" || c.type === "invalid");
  const wronglyRejected = wellFormed
    .map((c) => ({ file: c.file, result: judge(c.file) }))
    .filter((r) => !r.result.ok)
    .map((r) => `${r.file}: ${r.result.ok ? "" : `${r.result.error.line}:${r.result.error.column} ${r.result.error.message}`}`);
  console.log(`xmlconf: ${wellFormed.length - wronglyRejected.length}/${wellFormed.length} well-formed cases with external entities accepted`);
  assert.ok(wellFormed.length > 50, `only ${wellFormed.length} cases found in the catalog`);
  assert.deepEqual(wronglyRejected, []);
});
