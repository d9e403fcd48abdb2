// dist/domsplice, the one executable the image ships (npm run build:image-artifact; rebuilt here
// when missing or older than src/), end to end as the image runs it: started from a directory
// outside the checkout with no node_modules on PATH, talked to by test/hook-manager.ts the way
// virt-launcher does. The hook server's flows (Info, OnDefineDomain byte-identical on every
// Callbacks version, PreCloudInitIso, MutateDomain in Boot/MigrationSource/MigrationTarget on the
// Plugin API socket, Shutdown -> exit 0 and no socket left), then every built-in plugin through
// `serve`: the artifact's answer must be the bytes the same plugins give in this process (the code
// path serve runs, src/hooks/calls.ts), and must differ from the input where the plugin edits.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defineDomain, prepareCloudInit } from "../src/hooks/calls.ts";
import { HookCallError } from "../src/hooks/call-error.ts";
import { IDLE_SHRINK_MS } from "../src/hooks/memory.ts";
import { pluginOptions } from "../src/plugins/options.ts";
import { loadPlugins } from "../src/plugins/registry.ts";
import { PATCH_ANNOTATION } from "../src/plugins/annotation-patch.ts";
import { CLOUD_INIT_PATCH_ANNOTATION } from "../src/plugins/cloud-init.ts";
import { SMBIOS_ANNOTATION_PREFIX } from "../src/plugins/smbios.ts";
import { corpus } from "./corpus-files.ts";
import {
  artifactPath,
  callMutateDomain,
  callOnDefineDomain,
  callPreCloudInitIso,
  cloudInitData,
  ensureArtifact,
  HookManager,
  listDirectory,
  rawCall,
  repoRoot,
  startSidecar,
  supportedVersions,
  vmiJson,
  vmiJsonBoundTo,
  type InvocationContext,
  type SidecarProcess,
} from "./hook-manager.ts";
import { schemaValidKubevirtDomain, validateDomain, validatePasstDomain } from "./libvirt-schema.ts";

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const corpusFile = (name: string) => new Uint8Array(readFileSync(path.join(corpus, name)));
const kubevirtDomain = corpusFile("kubevirt/domain.xml");
const documents = ["kubevirt/domain.xml", "kubevirt/migration_domain.xml", "tricky/tricky.xml", "tricky/tricky-extra.xml"];
const contexts: readonly InvocationContext[] = ["Boot", "MigrationSource", "MigrationTarget"];

function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (Buffer.compare(Buffer.from(actual), Buffer.from(expected)) === 0) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  assert.fail(`${what}: not byte-identical (${actual.length} bytes, expected ${expected.length}); first difference at byte ${at}: ` +
    `${JSON.stringify(text(actual.subarray(at, at + 60)))} vs ${JSON.stringify(text(expected.subarray(at, at + 60)))}`);
}

// A pod's files for the plugins that read them (resolv.conf for slirp, sysfs MTU for tap) and a
// ConfigMap-like directory of scripts for exec, made once.
const pod = mkdtempSync(path.join(tmpdir(), "domsplice-artifact-pod-"));
const resolvConf = path.join(pod, "resolv.conf");
writeFileSync(resolvConf, "search mynamespace.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n");
const sysClassNet = path.join(pod, "sys-class-net");
mkdirSync(path.join(sysClassNet, "eth0"), { recursive: true });
writeFileSync(path.join(sysClassNet, "eth0", "mtu"), "1400\n");
const hooksDir = path.join(pod, "hooks");
mkdirSync(hooksDir);
// sidecar-shim's contract: onDefineDomain --vmi JSON --domain XML prints the new domain.
writeFileSync(path.join(hooksDir, "onDefineDomain"), `#!/bin/sh\nprintf '%s' "$4" | sed 's|</devices>|<watchdog model="i6300esb" action="reset"/></devices>|'\n`);
chmodSync(path.join(hooksDir, "onDefineDomain"), 0o755);

after(() => rmSync(pod, { recursive: true, force: true }));

before(() => ensureArtifact());

describe("dist/domsplice: virt-launcher and the sidecar", () => {
  let sidecar: SidecarProcess;
  before(async () => {
    sidecar = await startSidecar("artifact");
  });
  after(async () => {
    await sidecar?.stop();
  });

  test("the process is dist/domsplice itself, started outside the checkout with no node_modules on PATH", () => {
    const pid = sidecar.child.pid!;
    assert.equal(readlinkSync(`/proc/${pid}/exe`), artifactPath);
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    assert.ok(!cwd.startsWith(repoRoot + path.sep) && cwd !== repoRoot, `cwd ${cwd} is inside the checkout`);
    const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    const pathVariable = environ.find((entry) => entry.startsWith("PATH=")) ?? "";
    assert.ok(!pathVariable.includes("node_modules"), pathVariable);
  });

  test("Info: the name, the three Callbacks versions and the hook points with Shutdown", async () => {
    const manager = new HookManager(path.dirname(sidecar.socket));
    const [found] = await manager.collect(1, 5_000);
    assert.equal(found.info.name, "domsplice");
    assert.deepEqual([...found.info.versions].sort(), [...supportedVersions].sort());
    assert.equal(found.version, "v1alpha3");
    assert.deepEqual(found.info.hookPoints.map((point) => point.name), ["OnDefineDomain", "PreCloudInitIso", "Shutdown"]);
  });

  test("OnDefineDomain gives every document back byte-identical on v1alpha1, v1alpha2 and v1alpha3", async () => {
    for (const name of documents) {
      const domain = corpusFile(name);
      for (const version of supportedVersions) {
        assertSameBytes(await callOnDefineDomain(sidecar.socket, version, domain, utf8.encode(vmiJson)), domain, `${name} on ${version}`);
      }
    }
  });

  test("PreCloudInitIso through the hook manager: virt-launcher keeps its cloud-init data", async () => {
    const manager = new HookManager(path.dirname(sidecar.socket));
    await manager.collect(1, 5_000);
    assert.deepEqual(await manager.preCloudInitIso(utf8.encode(vmiJson), cloudInitData), cloudInitData);
  });

  test("MutateDomain on the Plugin API socket gives the domain back byte-identical in Boot, MigrationSource and MigrationTarget", async () => {
    for (const invocationContext of contexts) {
      assertSameBytes(await callMutateDomain(sidecar.pluginSocket, { domain: kubevirtDomain, vmi: utf8.encode(vmiJson), invocationContext }), kubevirtDomain, invocationContext);
    }
  });

  test("calls grpc-js refuses itself (an unknown method, a message over 16 MiB) are logged as error lines, as from the source", async () => {
    // The build rewrites grpc-js's modules (scripts/build-image-artifact.mjs) and the log of
    // these calls reaches into grpc-js's Server (src/hooks/unanswered.ts): both checked here.
    const unknown = "/kubevirt.hooks.v1alpha9.Callbacks/OnDefineDomain";
    await assert.rejects(rawCall(sidecar.socket, unknown, new Uint8Array()), /UNIMPLEMENTED/);
    await assert.rejects(rawCall(sidecar.socket, "/kubevirt.hooks.v1alpha3.Callbacks/OnDefineDomain", new Uint8Array(17 * 1024 * 1024)), /RESOURCE_EXHAUSTED/);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the second stream closes after the caller has its answer
    const errors = sidecar.logs.filter((line) => line.level === "error");
    assert.ok(errors.some((line) => line.code === "UNIMPLEMENTED" && line.method === unknown.slice(1)), sidecar.stderr());
    assert.ok(errors.some((line) => line.code === "RESOURCE_EXHAUSTED" && /16777216/.test(String(line.msg))), sidecar.stderr());
  });

  test("after an idle spell (collection, then Bun.shrink throwing compiled code away) the next calls answer the same bytes", async () => {
    const before = await callOnDefineDomain(sidecar.socket, "v1alpha3", kubevirtDomain, utf8.encode(vmiJson));
    await new Promise((resolve) => setTimeout(resolve, IDLE_SHRINK_MS + 300));
    for (const version of supportedVersions) {
      assertSameBytes(await callOnDefineDomain(sidecar.socket, version, kubevirtDomain, utf8.encode(vmiJson)), before, `after idle, ${version}`);
    }
    assert.equal(sidecar.child.exitCode, null, sidecar.stderr());
  });

  test("Shutdown: answered, then exit 0 and both sockets gone", async () => {
    const manager = new HookManager(path.dirname(sidecar.socket));
    await manager.collect(1, 5_000);
    await manager.shutdown();
    const exit = await sidecar.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, sidecar.stderr());
    assert.deepEqual(listDirectory(path.dirname(sidecar.socket)), []);
    assert.deepEqual(listDirectory(path.dirname(sidecar.pluginSocket)), []);
  });
});

test(
  "dist/domsplice --version answers where the checkout is not (as in the image)",
  () => {
    // A copy of the artifact, run in a mount namespace where the checkout is an empty directory.
    const dir = mkdtempSync(path.join(tmpdir(), "domsplice-artifact-alone-"));
    try {
      const copy = path.join(dir, "domsplice");
      copyFileSync(artifactPath, copy);
      chmodSync(copy, 0o755);
      mkdirSync(path.join(dir, "empty"));
      const run = spawnSync("unshare", ["--mount", "sh", "-c", 'mount --bind "$1" "$2" && exec "$3" --version', "sh", path.join(dir, "empty"), repoRoot, copy], { encoding: "utf8" });
      assert.equal(run.status, 0, `exit ${run.status}: ${run.stderr}`);
      assert.match(run.stdout, /^domsplice \d+\.\d+\.\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("the npm package leaves dist/domsplice out (it is the image's, and 100+ MiB)", () => {
  const pack = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: repoRoot, encoding: "utf8" });
  assert.equal(pack.status, 0, pack.stderr);
  const [{ files }] = JSON.parse(pack.stdout) as { files: { path: string }[] }[];
  assert.ok(files.some((file) => file.path === "dist/cli.js"), "dist/ is packed");
  assert.deepEqual(files.filter((file) => file.path.startsWith("dist/domsplice")), []);
});

// ---------------------------------------------------------------------------------------------
// Every built-in plugin through `serve`

interface PluginRow {
  readonly plugin: string;
  /** --option KEY=VALUE given to serve, and to the in-process plugins alike. */
  readonly options?: readonly string[];
  readonly vmi: string;
  /** Checks the artifact's domain beyond "same as in process" (which it must also be). */
  readonly check?: (domain: Uint8Array) => void;
}

const domainRows: readonly PluginRow[] = [
  { plugin: "identity", vmi: vmiJson, check: (domain) => assertSameBytes(domain, kubevirtDomain, "identity") },
  { plugin: "passt", vmi: vmiJsonBoundTo("passt"), check: (domain) => validatePasstDomain(schemaValidKubevirtDomain(domain)) },
  { plugin: "slirp", options: [`resolv-conf=${resolvConf}`], vmi: vmiJsonBoundTo("slirp"), check: (domain) => assert.match(text(domain), /<qemu:arg value="user,id=default,net=10\.0\.2\.0\/24,dnssearch=mynamespace/) },
  { plugin: "tap", options: [`sys-class-net=${sysClassNet}`, `network-info=${path.join(pod, "no-network-info")}`], vmi: vmiJsonBoundTo("tap"), check: (domain) => assert.match(text(domain), /<interface type="ethernet">[^]*?<mtu size="1400"/) },
  { plugin: "smbios", vmi: vmiJsonBoundTo("passt", { [`${SMBIOS_ANNOTATION_PREFIX}baseBoardManufacturer`]: "Acme Boards" }), check: (domain) => assert.match(text(domain), /Acme Boards/) },
  {
    plugin: "annotation-patch",
    vmi: vmiJsonBoundTo("passt", { [PATCH_ANNOTATION]: JSON.stringify([{ op: "set", path: "/domain/cpu/@mode", value: "host-passthrough" }]) }),
    check: (domain) => assert.match(text(domain), /<cpu mode="host-passthrough"/),
  },
  { plugin: "exec", options: [`hooks-dir=${hooksDir}`], vmi: vmiJson, check: (domain) => assert.match(text(domain), /<watchdog model="i6300esb" action="reset"\/><\/devices>/) },
];

describe("dist/domsplice: each built-in plugin through serve answers as the same plugin in process", () => {
  for (const row of domainRows) {
    test(`${row.plugin}: OnDefineDomain and MutateDomain`, async () => {
      const options = row.options ?? [];
      const sidecar = await startSidecar("artifact", options.flatMap((option) => ["--option", option]), { plugins: [row.plugin] });
      try {
        const vmi = utf8.encode(row.vmi);
        const viaArtifact = await callOnDefineDomain(sidecar.socket, "v1alpha3", kubevirtDomain, vmi);
        const plugins = await loadPlugins([row.plugin], pluginOptions(options, {}));
        const inProcess = await defineDomain({ plugins, env: {} }, { domainXml: kubevirtDomain, vmiJson: vmi });
        if (inProcess instanceof HookCallError) assert.fail(`in process: ${inProcess.message}`);
        assertSameBytes(viaArtifact, inProcess.domainXml, `${row.plugin}: artifact vs in process`);
        if (row.plugin !== "identity") assert.notDeepEqual(Buffer.from(viaArtifact), Buffer.from(kubevirtDomain), `${row.plugin} changed nothing`);
        row.check?.(viaArtifact);
        if (row.plugin === "passt" || row.plugin === "tap" || row.plugin === "smbios") validateDomain(schemaValidKubevirtDomain(viaArtifact));
        const mutated = await callMutateDomain(sidecar.pluginSocket, { domain: kubevirtDomain, vmi, invocationContext: "Boot" });
        assertSameBytes(mutated, viaArtifact, `${row.plugin}: MutateDomain vs OnDefineDomain`);
      } finally {
        await sidecar.stop();
      }
    });
  }

  test("cloud-init: PreCloudInitIso applies the merge patch from the VMI annotation", async () => {
    const sidecar = await startSidecar("artifact", [], { plugins: ["cloud-init"] });
    try {
      const userData = "#cloud-config\npassword: fedora\nchpasswd: { expire: False }\n";
      const vmi = utf8.encode(vmiJsonBoundTo("passt", { [CLOUD_INIT_PATCH_ANNOTATION]: JSON.stringify({ UserData: userData }) }));
      const input = {
        vmi,
        cloudInitData: utf8.encode(JSON.stringify(cloudInitData)),
        cloudInitNoCloudSource: utf8.encode(JSON.stringify({ userData: cloudInitData.UserData })),
      };
      const viaArtifact = await callPreCloudInitIso(sidecar.socket, "v1alpha3", input);
      const inProcess = await prepareCloudInit({ plugins: await loadPlugins(["cloud-init"], pluginOptions([], {})), env: {} }, { ...input, vmiJson: vmi });
      if (inProcess instanceof HookCallError) assert.fail(`in process: ${inProcess.message}`);
      assertSameBytes(viaArtifact.cloudInitData, inProcess.cloudInitData, "cloudInitData");
      assertSameBytes(viaArtifact.cloudInitNoCloudSource, inProcess.cloudInitNoCloudSource, "cloudInitNoCloudSource");
      assert.equal(JSON.parse(text(viaArtifact.cloudInitData)).UserData, userData);
    } finally {
      await sidecar.stop();
    }
  });
});
