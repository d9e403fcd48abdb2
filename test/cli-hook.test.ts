// `domsplice hook` through bin/domsplice: one hook call from the command line on KubeVirt's own
// domain XML, with sidecar-shim's arguments (--vmi JSON --domain XML, --vmi JSON --cloud-init
// JSON) and output (the new XML or CloudInitData JSON on stdout). Its failures are the ones the
// server answers with (the same calls.ts path), as one line on stderr and exit 2 (1 when a
// plugin breaks). It never loads grpc-js.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HookCallError } from "../src/hooks/call-error.ts";
import { defineDomain } from "../src/hooks/calls.ts";
import { identityPlugin } from "../src/plugins/identity.ts";
import { corpus } from "./corpus-files.ts";
import { cloudInitData, ensureNodeBundle, repoRoot, vmiJson } from "./hook-manager.ts";

const domainFile = path.join(corpus, "kubevirt", "domain.xml");
const domainXml = readFileSync(domainFile);
let scratch: string;

before(async () => {
  await ensureNodeBundle();
  scratch = mkdtempSync(path.join(tmpdir(), "domsplice-cli-hook-"));
});

after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

interface Run {
  readonly status: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** bin/domsplice hook ARGS, under `node NODE_FLAGS`. */
function hook(args: readonly string[], nodeFlags: readonly string[] = [], env: Record<string, string> = {}): Run {
  const run = spawnSync(process.execPath, [...nodeFlags, path.join(repoRoot, "bin", "domsplice"), "hook", ...args], {
    cwd: scratch,
    env: { ...process.env, ...env },
    timeout: 20_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr.toString() };
}

/** Exit `status`, nothing on stdout, exactly one line on stderr; returns that line. */
function failedWithOneLine(run: Run, status: number): string {
  assert.equal(run.status, status, `exit status; stderr: ${run.stderr}`);
  assert.equal(run.stdout.length, 0, "nothing on stdout");
  assert.match(run.stderr, /^[^\n]+\n$/, `one line on stderr: ${JSON.stringify(run.stderr)}`);
  return run.stderr.trimEnd();
}

function file(name: string, content: string | Uint8Array): string {
  const full = path.join(scratch, name);
  writeFileSync(full, content);
  return full;
}

describe("domsplice hook --domain (onDefineDomain)", () => {
  test("identity prints KubeVirt's domain byte-identical, from files and from inline arguments", () => {
    const vmiFile = file("vmi.json", vmiJson);
    for (const args of [
      ["--vmi", vmiFile, "--domain", domainFile],
      ["--vmi", vmiJson, "--domain", domainXml.toString("utf8")],
      // inline JSON after whitespace is still content
      ["--vmi", `\n  ${vmiJson}`, "--domain", domainFile],
    ]) {
      const run = hook(["--plugin", "identity", ...args]);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stderr, "");
      assert.equal(Buffer.compare(run.stdout, domainXml), 0, `byte-identical for ${args.join(" ").slice(0, 60)}`);
    }
  });

  test("an inline domain with leading whitespace is content, not a file name", () => {
    const run = hook(["--plugin", "identity", "--vmi", vmiJson, "--domain", "\n\t<domain type='kvm'/>"]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.toString(), "\n\t<domain type='kvm'/>");
  });

  test("a malformed domain fails with exactly the server's INVALID_ARGUMENT message, line:col included", async () => {
    const broken = "<domain>\n  <name>x</nam>\n</domain>\n";
    const expected = await defineDomain({ plugins: [identityPlugin], env: {} }, { domainXml: new TextEncoder().encode(broken), vmiJson: new TextEncoder().encode(vmiJson) });
    assert.ok(expected instanceof HookCallError);
    const line = failedWithOneLine(hook(["--plugin", "identity", "--vmi", vmiJson, "--domain", file("broken.xml", broken)]), 2);
    assert.equal(line, `domsplice hook: INVALID_ARGUMENT: ${expected.message}`);
    assert.match(line, /at line 2, column 10: end tag does not match/);
  });

  test("an empty domain file and bad VMI JSON fail with exit 2 and say what is wrong", () => {
    assert.equal(failedWithOneLine(hook(["--plugin", "identity", "--vmi", vmiJson, "--domain", file("empty.xml", "")]), 2), "domsplice hook: INVALID_ARGUMENT: empty domain XML");
    assert.equal(
      failedWithOneLine(hook(["--plugin", "identity", "--vmi", '{"kind": VirtualMachineInstance}', "--domain", domainFile]), 2),
      `domsplice hook: INVALID_ARGUMENT: invalid VMI JSON at line 1, column 10: unexpected "V", expected a JSON value`,
    );
  });
});

describe("domsplice hook --cloud-init (preCloudInitIso)", () => {
  const cloudInitJson = JSON.stringify(cloudInitData);

  test("identity prints the CloudInitData JSON it was given, byte for byte, inline or from a file", () => {
    for (const value of [cloudInitJson, file("cloud-init.json", cloudInitJson)]) {
      const run = hook(["--plugin", "identity", "--vmi", vmiJson, "--cloud-init", value]);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.toString(), cloudInitJson);
    }
  });

  test("bad CloudInitData JSON fails with exit 2 naming it and the place", () => {
    assert.equal(
      failedWithOneLine(hook(["--plugin", "identity", "--vmi", vmiJson, "--cloud-init", '{"UserData": "x",}']), 2),
      `domsplice hook: INVALID_ARGUMENT: invalid cloudInitData JSON at line 1, column 18: unexpected "}", expected a property name in double quotes`,
    );
  });
});

describe("domsplice hook: usage", () => {
  test("usage mistakes exit 2 with one line pointing at the help", () => {
    const usage = (args: string[]) => failedWithOneLine(hook(args), 2);
    assert.match(usage(["--vmi", vmiJson, "--domain", domainFile]), /^domsplice hook: missing --plugin NAME \(known: .*identity.*\); see 'domsplice hook --help'$/);
    assert.match(usage(["--plugin", "identity", "--domain", domainFile]), /missing --vmi FILE\|JSON/);
    assert.match(usage(["--plugin", "identity", "--vmi", vmiJson]), /give exactly one of --domain FILE\|XML and --cloud-init FILE\|JSON/);
    assert.match(usage(["--plugin", "identity", "--vmi", vmiJson, "--domain", domainFile, "--cloud-init", "{}"]), /give exactly one of/);
    assert.match(usage(["--plugin", "pasta", "--vmi", vmiJson, "--domain", domainFile]), /^domsplice hook: unknown plugin 'pasta' \(known plugins: .*identity.*\); see 'domsplice hook --help'$/);
    assert.match(usage(["--plugin", "identity", "--vmi", path.join(scratch, "absent.json"), "--domain", domainFile]), /absent\.json: cannot read: no such file or directory$/);
  });

  test("--help describes the inline-or-file rule and both outputs", () => {
    const run = hook(["--help"]);
    assert.equal(run.status, 0);
    const text = run.stdout.toString();
    assert.match(text, /starts with '\{' \(--vmi, --cloud-init\) or '<' \(--domain\)/);
    assert.match(text, /prints the new domain XML/);
    assert.match(text, /prints the new CloudInitData JSON/);
  });
});

describe("domsplice hook: start-up cost", () => {
  // A resolve hook that fails any import of grpc-js: hook (and patch) must run without it, and
  // serve, which needs it, shows the hook works.
  const forbidGrpc = [
    "--import",
    'data:text/javascript,import{register}from"node:module";register("data:text/javascript,export async function resolve(s,c,n){if(s.startsWith(\\"@grpc/grpc-js\\"))throw new Error(\\"grpc-js was imported\\");return n(s,c)}")',
  ];

  test("hook never imports grpc-js; serve does", () => {
    const run = hook(["--plugin", "identity", "--vmi", vmiJson, "--domain", domainFile], forbidGrpc);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(Buffer.compare(run.stdout, domainXml), 0);
    const serve = spawnSync(process.execPath, [...forbidGrpc, path.join(repoRoot, "bin", "domsplice"), "serve", "--socket", path.join(scratch, "never.sock")], { encoding: "utf8", timeout: 20_000 });
    assert.match(serve.stderr, /grpc-js was imported/);
  });
});
