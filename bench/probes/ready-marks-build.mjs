// Builds a probe executable for bench/probes/ready-marks.ts: src/ copied to a temporary
// directory, performance.now() marks inserted at the module and step boundaries of `serve`'s
// start (a list in globalThis.__m, printed in the "serving" line and the first call's log line),
// then compiled as dist/domsplice is (compileExecutable of scripts/build-image-artifact.mjs).
// The product code carries no marks; each insertion names the text it goes after, and the build
// stops if that text is gone (update the list with the code).
//
// Usage: node bench/probes/ready-marks-build.mjs OUT

import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compileExecutable } from "../../scripts/build-image-artifact.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const [out] = process.argv.slice(2);
if (out === undefined) {
  console.error("Usage: node bench/probes/ready-marks-build.mjs OUT");
  process.exit(2);
}

const M = (name) => `globalThis.__m.push([${JSON.stringify(name)}, performance.now()]);`;
/** [file, text, what to put before it ("before") or after it ("after"), the mark] */
const MARKS = [
  ["src/cli.ts", "/** Runs the command line; resolves to the exit status. */", "before", "cli modules"],
  ["src/cli.ts", `      return (await import("./cli/serve.ts")).runServe(rest);`, "replace", null,
    `      ${M("serve import")} { const serve = await import("./cli/serve.ts"); ${M("serve modules")} return serve.runServe(rest); }`],
  ["src/cli/serve.ts", "  const supervision = superviseProcess();", "before", "options parsed"],
  ["src/cli/serve.ts", "      server = await startHookServer(", "before", "plugins loaded"],
  ["src/hooks/server.ts", "  const grpc = await loadGrpcServer();", "after", "grpc-js imported"],
  ["src/hooks/server.ts", "  let serving = false;", "before", "methods and Info answer made"],
  ["src/hooks/server.ts", "  await prepareSocketPath(socket);\n", "after", "socket path checked"],
  ["src/hooks/server.ts", "  server.addService(definition, implementation);\n", "after", "grpc-js Server made"],
  ["src/hooks/server.ts", "  return { server, file: await identifySocketFile(socket) };", "before", "bound"],
  // The first connection as the server sees it: accepted, HTTP/2 session, the call's stream.
  ["src/hooks/server.ts", "  return { server, file: await identifySocketFile(socket) };", "before", null,
    "  for (const h2 of server.http2Servers.keys()) for (const event of [\"connection\", \"session\", \"stream\"]) h2.prependOnceListener(event, () => globalThis.__m.push([`first ${event}`, performance.now()]));"],
  ["src/hooks/server.ts", "  const sockets = bound.map(({ file }) => file.path);\n", "after", "socket identified"],
  ["src/hooks/server.ts", "    readyMs: Math.round(performance.now() * 10) / 10,", "after", null, "    marks: globalThis.__m,"],
  ["src/hooks/server.ts", "  serving = true;\n", "before", "serving line written"],
  ["src/hooks/server.ts", "    const started = performance.now();\n", "after", "first call's handler entered"],
  ["src/hooks/server.ts", "        callback(null, outcome.response);\n", "after", "answer handed to grpc-js"],
  ["src/hooks/server.ts", "          durationMs,\n        });", "replace", null, "          durationMs,\n          marks: globalThis.__m,\n        });"],
];

const scratch = mkdtempSync(path.join(os.tmpdir(), "domsplice-ready-marks-build-"));
try {
  cpSync(path.join(root, "src"), path.join(scratch, "src"), { recursive: true });
  for (const file of ["package.json", "tsconfig.json"]) cpSync(path.join(root, file), path.join(scratch, file));
  symlinkSync(path.join(root, "node_modules"), path.join(scratch, "node_modules"));
  const edited = new Map();
  const text = (file) => edited.get(file) ?? readFileSync(path.join(scratch, file), "utf8");
  for (const [file, anchor, where, mark, insert] of MARKS) {
    const source = text(file);
    const at = source.indexOf(anchor);
    if (at < 0) throw new Error(`ready-marks-build: ${file} no longer has ${JSON.stringify(anchor)}; update MARKS`);
    const code = insert ?? M(mark);
    const replaced =
      where === "replace" ? code : where === "before" ? `${code}\n${anchor}` : anchor.endsWith("\n") ? `${anchor}${code}\n` : `${anchor}\n${code}`;
    edited.set(file, source.slice(0, at) + replaced + source.slice(at + anchor.length));
  }
  // The first mark: a module evaluated before any other of the CLI's.
  writeFileSync(path.join(scratch, "src/ready-mark-start.ts"), `(globalThis as any).__m = [["first module", performance.now()]];\n`);
  edited.set("src/cli.ts", `import "./ready-mark-start.ts";\n${text("src/cli.ts")}`);
  // The marks' own first call per step pushes into a global the TypeScript types do not know.
  for (const [file, source] of edited) writeFileSync(path.join(scratch, file), file.endsWith(".ts") ? `// @ts-nocheck\n${source}` : source);
  compileExecutable(path.join(scratch, "src/cli.ts"), path.resolve(out));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
