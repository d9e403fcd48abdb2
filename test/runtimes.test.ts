// The library runs the same on Node.js, Bun and Deno: each runtime, as a real child process,
// imports the package (Node through package.json `exports` -> the esbuild bundle; Bun and Deno
// the TypeScript source), patches the shipped example with both kernels and prints the result,
// which must equal what this process computes.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { patch } from "../src/index.ts";

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bin = (name: string) => path.join(repoRoot, "node_modules", ".bin", name);
const domainXml = readFileSync(path.join(repoRoot, "examples/domain.xml"), "utf8");
const ops = JSON.parse(readFileSync(path.join(repoRoot, "examples/passt-patch.json"), "utf8"));

// One script for every runtime: reads stdin as {domain, ops}, prints both kernels' outputs.
const script = (specifier: string) => `
import { patch, tokenize } from ${JSON.stringify(specifier)};
const chunks = [];
for await (const chunk of (globalThis.Deno ? Deno.stdin.readable : process.stdin)) chunks.push(chunk);
const { domain, ops } = JSON.parse(new TextDecoder().decode(await new Blob(chunks).arrayBuffer()));
const bytes = new TextEncoder().encode(domain);
const ts = tokenize(bytes, { kernel: "ts" });
const wasm = tokenize(bytes, { kernel: "wasm" });
if (!ts.ok || !wasm.ok || ts.table.count !== wasm.table.count) throw new Error("kernels disagree");
console.log(JSON.stringify({ out: patch(domain, ops), tokens: ts.table.count }));
`;

function run(command: string, args: string[]): { out: string; tokens: number } {
  const stdout = execFileSync(command, args, {
    cwd: repoRoot,
    input: JSON.stringify({ domain: domainXml, ops }),
    encoding: "utf8",
    timeout: 60_000,
  });
  return JSON.parse(stdout);
}

describe("runtimes", () => {
  const expected = patch(domainXml, ops) as string;

  test("the example patch changes the example domain", () => {
    assert.notEqual(expected, domainXml);
  });

  test("Node imports the package by name (exports -> dist bundle) and patches alike", () => {
    assert.ok(existsSync(path.join(repoRoot, "dist/index.js")), "dist/ is built by npm ci (npm run build)");
    const result = run(process.execPath, ["--input-type=module", "-e", script("domsplice")]);
    assert.equal(result.out, expected);
  });

  test("Bun runs the TypeScript source and patches alike", () => {
    const result = run(bin("bun"), ["-e", script(path.join(repoRoot, "src/index.ts"))]);
    assert.equal(result.out, expected);
  });

  test("Deno runs the TypeScript source and patches alike", () => {
    const file = path.join(repoRoot, "src/index.ts");
    const result = run(bin("deno"), ["eval", "--ext=ts", script(`file://${file}`)]);
    assert.equal(result.out, expected);
  });
});
