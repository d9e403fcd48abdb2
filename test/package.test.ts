// The package as its users get it: a TypeScript project (strict, NodeNext) that imports
// "domsplice" type-checks against the declarations in dist/types that `npm ci` builds, and a
// type error in the user's code is still caught through them.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "./corpus-files.ts";

const consumer = mkdtempSync(path.join(tmpdir(), "domsplice-consumer-"));
after(() => rmSync(consumer, { recursive: true, force: true }));
mkdirSync(path.join(consumer, "node_modules"));
symlinkSync(repoRoot, path.join(consumer, "node_modules", "domsplice"));
writeFileSync(path.join(consumer, "package.json"), '{"type": "module"}\n');
writeFileSync(
  path.join(consumer, "tsconfig.json"),
  JSON.stringify({ compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true, types: [] } }),
);

function typeCheck(source: string): { status: number | null; output: string } {
  writeFileSync(path.join(consumer, "main.ts"), source);
  const run = spawnSync(process.execPath, [path.join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", consumer], { encoding: "utf8" });
  return { status: run.status, output: run.stdout + run.stderr };
}

describe("package types", () => {
  test("dist/types was built by npm ci / npm run build", () => {
    assert.ok(existsSync(path.join(repoRoot, "dist/types/index.d.ts")), "run npm run build");
  });

  test("a strict NodeNext project using the library API type-checks", () => {
    const result = typeCheck(`
      import { patch, compile, check, xml, PatchError, type PatchOp } from "domsplice";
      const ops: PatchOp[] = [{ op: "set", path: "/a/@b", value: "1" }];
      const text: string = patch("<a/>", ops);
      const bytes: Uint8Array = compile(ops).apply(new Uint8Array(0));
      const verdict = check(text);
      if (!verdict.ok) console.log(verdict.error.line, verdict.error.column);
      console.log(bytes.length, xml\`<x a=\${"1"}/>\`, PatchError.name);
    `);
    assert.equal(result.status, 0, result.output);
  });

  test("a misuse is reported through the declarations", () => {
    const result = typeCheck(`
      import { patch } from "domsplice";
      patch("<a/>", [{ op: "set", path: "/a/@b" }]);
    `);
    assert.notEqual(result.status, 0);
    assert.match(result.output, /main\.ts/);
  });
});
