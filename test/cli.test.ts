// The command line as users and scripts meet it: bin/domsplice run as a real child process
// (from the repository and from elsewhere, directly and through a symlink), its help texts, exit
// statuses and one-line errors, `patch` from files and from stdin, JSON and YAML patch documents,
// atomic --out, and `check`. Expected outputs come from the library itself (the CLI must be a
// faithful wrapper) and from examples/.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { check, patch, type PatchOp } from "../src/index.ts";
import { ensureNodeBundle } from "./hook-manager.ts";

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bin = path.join(repoRoot, "bin", "domsplice");
const examples = path.join(repoRoot, "examples");
const domainXml = path.join(examples, "domain.xml");
const passtJson = path.join(examples, "passt-patch.json");
const passtYaml = path.join(examples, "passt-patch.yaml");

interface Run {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

function domsplice(args: string[], options: { cwd?: string; input?: Uint8Array | string; command?: string } = {}): Run {
  const result = spawnSync(options.command ?? bin, args, {
    cwd: options.cwd ?? repoRoot,
    input: options.input ?? "",
    timeout: 30_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString("utf8") };
}

/** The stderr of a failed run: exactly one line, returned without its newline. */
function oneLine(run: Run): string {
  assert.equal(run.stdout.length, 0, "nothing on stdout when failing");
  assert.match(run.stderr, /^[^\n]+\n$/, `expected exactly one line on stderr, got ${JSON.stringify(run.stderr)}`);
  return run.stderr.trimEnd();
}

let scratch: string;

before(async () => {
  await ensureNodeBundle();
  scratch = mkdtempSync(path.join(tmpdir(), "domsplice-cli-"));
});

after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const passtOps = (): PatchOp[] => JSON.parse(readFileSync(passtJson, "utf8"));
const expectedPasstOutput = (): Uint8Array => patch(readFileSync(domainXml), passtOps()) as Uint8Array;

describe("help and version", () => {
  test("--help lists the patch and check commands and exits 0", () => {
    for (const flag of ["--help", "-h", "help"]) {
      const run = domsplice([flag]);
      assert.equal(run.status, 0);
      const text = run.stdout.toString();
      assert.match(text, /domsplice patch --patch FILE \[--in FILE\] \[--out FILE\]/);
      assert.match(text, /domsplice check FILE/);
      assert.match(text, /domsplice serve /);
      assert.match(text, /domsplice hook /);
    }
  });

  test("each command has its own --help", () => {
    const patchHelp = domsplice(["patch", "--help"]);
    assert.equal(patchHelp.status, 0);
    assert.match(patchHelp.stdout.toString(), /--patch FILE[\s\S]*--in FILE[\s\S]*--out FILE/);
    const checkHelp = domsplice(["check", "-h"]);
    assert.equal(checkHelp.status, 0);
    assert.match(checkHelp.stdout.toString(), /Usage: domsplice check FILE/);
    assert.equal(domsplice(["help", "patch"]).stdout.toString(), patchHelp.stdout.toString());
  });

  test("--version prints the package version", () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
    const run = domsplice(["--version"]);
    assert.equal(run.status, 0);
    assert.equal(run.stdout.toString(), `domsplice ${version}\n`);
  });

  test("no command, an unknown command or an unknown option exits 2 with a one-line hint", () => {
    assert.match(oneLine(domsplice([])), /missing command.*domsplice --help/);
    const unknown = domsplice(["frobnicate"]);
    assert.equal(unknown.status, 2);
    assert.match(oneLine(unknown), /unknown command 'frobnicate'.*domsplice --help/);
    const flag = domsplice(["patch", "--patch", passtJson, "--frobnicate"]);
    assert.equal(flag.status, 2);
    assert.match(oneLine(flag), /^domsplice patch: unknown option '--frobnicate'.*domsplice patch --help/);
    const missing = domsplice(["patch", "--in", domainXml]);
    assert.equal(missing.status, 2);
    assert.match(oneLine(missing), /missing --patch/);
    const noValue = domsplice(["patch", "--patch"]);
    assert.equal(noValue.status, 2);
    assert.match(oneLine(noValue), /'--patch' needs a value/);
  });
});

describe("patch", () => {
  test("--in/--out writes what the library's patch() returns", () => {
    const out = path.join(scratch, "in-out.xml");
    const run = domsplice(["patch", "--patch", passtJson, "--in", domainXml, "--out", out]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.length, 0);
    assert.equal(run.stderr, "");
    assert.deepEqual(new Uint8Array(readFileSync(out)), expectedPasstOutput());
  });

  test("stdin to stdout gives the same bytes", () => {
    const run = domsplice(["patch", "--patch", passtJson], { input: readFileSync(domainXml) });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(new Uint8Array(run.stdout), expectedPasstOutput());
  });

  test("the example patch does what examples/README.md says, and its output is well-formed", () => {
    const output = expectedPasstOutput();
    assert.deepEqual(check(output), { ok: true });
    const text = new TextDecoder().decode(output);
    assert.match(text, /<memoryBacking>[\s\S]*<source type="memfd"[\s\S]*<access mode="shared"[\s\S]*<\/memoryBacking>/);
    assert.equal(text.match(/<interface /g)?.length, 1, "the generated interface is replaced, not duplicated");
    assert.match(text, /<interface type="vhostuser">[\s\S]*<backend type="passt"[\s\S]*<alias name="ua-default">/);
    assert.doesNotMatch(text, /type="ethernet"/);
  });

  test("the example patch is idempotent through the CLI", () => {
    const once = domsplice(["patch", "--patch", passtJson, "--in", domainXml]);
    const twice = domsplice(["patch", "--patch", passtJson], { input: once.stdout });
    assert.equal(twice.status, 0, twice.stderr);
    assert.deepEqual(twice.stdout, once.stdout);
  });

  test("a YAML patch document gives the same output as its JSON twin", () => {
    const fromJson = domsplice(["patch", "--patch", passtJson, "--in", domainXml]);
    const fromYaml = domsplice(["patch", "-p", passtYaml, "-i", domainXml]);
    assert.equal(fromYaml.status, 0, fromYaml.stderr);
    assert.deepEqual(fromYaml.stdout, fromJson.stdout);
  });

  test("YAML number-looking values are kept as written (a PCI slot 0x03 stays 0x03)", () => {
    const yamlFile = path.join(scratch, "hex.yaml");
    writeFileSync(yamlFile, "- op: set\n  path: /domain/vcpu/@slot\n  value: 0x03\n- op: set\n  path: /domain/vcpu/@ratio\n  value: 1.50\n");
    const run = domsplice(["patch", "--patch", yamlFile, "--in", domainXml]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout.toString(), /<vcpu[^>]* slot="0x03" ratio="1.50"/);
  });

  test("YAML numbers and booleans in value are taken as their text", () => {
    const yamlFile = path.join(scratch, "numbers.yaml");
    writeFileSync(yamlFile, "- op: replace\n  path: /domain/iothreads/text()\n  value: 4\n- op: set\n  path: /domain/vcpu/@current\n  value: 2\n");
    const run = domsplice(["patch", "--patch", yamlFile, "--in", domainXml]);
    assert.equal(run.status, 0, run.stderr);
    const expected = patch(readFileSync(domainXml), [
      { op: "replace", path: "/domain/iothreads/text()", value: "4" },
      { op: "set", path: "/domain/vcpu/@current", value: "2" },
    ] as PatchOp[]);
    assert.deepEqual(new Uint8Array(run.stdout), expected);
  });

  test("malformed XML exits 2 with INPUT:line:col and creates no output file", () => {
    const bad = path.join(scratch, "bad.xml");
    writeFileSync(bad, "<domain>\n  <devices>\n  </device>\n</domain>\n");
    const expected = check(readFileSync(bad));
    assert.equal(expected.ok, false);
    const out = path.join(scratch, "never-written.xml");
    const run = domsplice(["patch", "--patch", passtJson, "--in", bad, "--out", out]);
    assert.equal(run.status, 2);
    const line = oneLine(run);
    if (!expected.ok) assert.ok(line.startsWith(`${bad}:${expected.error.line}:${expected.error.column}: `), line);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(scratch).filter((name) => name.includes("never-written")), [], "no temporary file left behind");
  });

  test("a failed run leaves an existing --out file as it was", () => {
    const out = path.join(scratch, "existing.xml");
    writeFileSync(out, "previous contents\n");
    const run = domsplice(["patch", "--patch", passtJson, "--out", out], { input: "<domain><devices></domain>" });
    assert.equal(run.status, 2);
    assert.match(oneLine(run), /^<stdin>:1:\d+: /);
    assert.equal(readFileSync(out, "utf8"), "previous contents\n");
  });

  test("--out replaces an existing file and keeps its permissions", () => {
    const out = path.join(scratch, "kept-mode.xml");
    writeFileSync(out, "old\n");
    chmodSync(out, 0o640);
    const run = domsplice(["patch", "--patch", passtJson, "--in", domainXml, "--out", out]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(new Uint8Array(readFileSync(out)), expectedPasstOutput());
    assert.equal(statSync(out).mode & 0o777, 0o640);
  });

  test("--in and --out may name the same file (edit in place)", () => {
    const file = path.join(scratch, "in-place.xml");
    writeFileSync(file, readFileSync(domainXml));
    const run = domsplice(["patch", "--patch", passtJson, "--in", file, "--out", file]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(new Uint8Array(readFileSync(file)), expectedPasstOutput());
  });

  test("a patch document that is not an array of operations exits 2 naming the file and the problem", () => {
    const cases: [name: string, content: string, expected: RegExp][] = [
      ["object.json", '{"op": "remove", "path": "/domain/devices/interface"}', /object\.json: the patch document is an object; expected an array/],
      ["unknown-op.json", '[{"op": "delete", "path": "/domain/cpu"}]', /unknown-op\.json:ops\[0\]: unknown op "delete"/],
      ["no-xml.json", '[{"op": "remove", "path": "/a"}, {"op": "add", "path": "/domain/devices"}]', /no-xml\.json:ops\[1\]: "add" needs "xml"/],
      ["typo.json", '[{"op": "add", "path": "/domain/devices", "xml": "<a/>", "postion": "after"}]', /typo\.json:ops\[0\]: "add" does not take "postion"/],
      ["syntax.json", '[\n  {"op": "remove",, "path": "/a"}\n]', /syntax\.json:2:19: invalid JSON: unexpected ",", expected a property name in double quotes$/],
      ["trailing-comma.json", '[\n  {"op": "remove", "path": "/a"},\n]', /^[^\n]*trailing-comma\.json:3:1: invalid JSON: unexpected "\]", expected a JSON value$/],
      ["cut-short.json", '[\n  {"op": "remove",', /cut-short\.json:2:19: invalid JSON: unexpected end of input, expected a property name in double quotes$/],
      ["syntax.yaml", "- op: remove\n   path: /a\n  x: 1\n", /syntax\.yaml:\d+:\d+: invalid YAML/],
      ["empty.yaml", "", /empty\.yaml: the patch document is empty/],
    ];
    for (const [name, content, expected] of cases) {
      const file = path.join(scratch, name);
      writeFileSync(file, content);
      const run = domsplice(["patch", "--patch", file, "--in", domainXml]);
      assert.equal(run.status, 2, name);
      assert.match(oneLine(run), expected);
    }
  });

  test("an operation whose path matches nothing exits 2 naming the operation", () => {
    const file = path.join(scratch, "no-match.json");
    writeFileSync(file, JSON.stringify([{ op: "ensure", path: "/domain/cpu" }, { op: "set", path: "/domain/nosuch/@a", value: "1" }]));
    const run = domsplice(["patch", "--patch", file, "--in", domainXml]);
    assert.equal(run.status, 2);
    assert.match(oneLine(run), /^.*no-match\.json:ops\[1\]: /);
  });

  test("an unreadable input or patch file exits 2 with one line", () => {
    const missingInput = domsplice(["patch", "--patch", passtJson, "--in", path.join(scratch, "absent.xml")]);
    assert.equal(missingInput.status, 2);
    assert.match(oneLine(missingInput), /absent\.xml: cannot read: no such file or directory/);
    const missingPatch = domsplice(["patch", "--patch", path.join(scratch, "absent.json"), "--in", domainXml]);
    assert.equal(missingPatch.status, 2);
    assert.match(oneLine(missingPatch), /absent\.json: cannot read/);
  });

  test("works from another directory with relative paths, and through a symlink", () => {
    const link = path.join(scratch, "domsplice-link");
    symlinkSync(bin, link);
    const relativePatch = path.relative(scratch, passtJson);
    const relativeInput = path.relative(scratch, domainXml);
    for (const command of [bin, link]) {
      const run = domsplice(["patch", "--patch", relativePatch, "--in", relativeInput, "--out", "relative-out.xml"], { cwd: scratch, command });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(new Uint8Array(readFileSync(path.join(scratch, "relative-out.xml"))), expectedPasstOutput());
    }
  });
});

describe("check", () => {
  test("a well-formed document: exit 0 and no output", () => {
    const run = domsplice(["check", domainXml]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.length, 0);
    assert.equal(run.stderr, "");
  });

  test("a malformed document: exit 2 with FILE:line:col: message, the library's position", () => {
    const bad = path.join(scratch, "unbalanced.xml");
    writeFileSync(bad, '<domain type="kvm">\n  <name>vm</name>\n  <devices>\n</domain>\n');
    const expected = check(readFileSync(bad));
    assert.equal(expected.ok, false);
    const run = domsplice(["check", bad]);
    assert.equal(run.status, 2);
    if (!expected.ok) assert.equal(oneLine(run), `${bad}:${expected.error.line}:${expected.error.column}: ${expected.error.message}`);
  });

  test("several files: one line per bad file, exit 2 if any is bad; - reads stdin", () => {
    const bad = path.join(scratch, "dup-attr.xml");
    writeFileSync(bad, '<a x="1" x="2"/>');
    const run = domsplice(["check", domainXml, bad, "-"], { input: "<ok/>" });
    assert.equal(run.status, 2);
    assert.match(oneLine(run), /dup-attr\.xml:1:\d+: /);
    const stdinBad = domsplice(["check", "-"], { input: "<a>" });
    assert.equal(stdinBad.status, 2);
    assert.match(oneLine(stdinBad), /^<stdin>:1:\d+: /);
  });

  test("a missing file or no file at all exits 2", () => {
    const missing = domsplice(["check", path.join(scratch, "nope.xml")]);
    assert.equal(missing.status, 2);
    assert.match(oneLine(missing), /nope\.xml: cannot read/);
    assert.equal(domsplice(["check"]).status, 2);
  });
});
