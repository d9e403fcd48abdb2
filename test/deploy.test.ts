// deploy/*.yaml, checked as far as can be done without a cluster: every document parses and has
// apiVersion, kind and metadata.name; one image name throughout; the KubeVirt CR registers
// exactly the binding plugins the image chooses by name, and every VM uses a registered one; the
// JSON in annotations parses; the hookSidecars args and the Plugin API sidecar's args name
// plugins and options that exist, and run: dist/domsplice is started with them (paths moved
// into a scratch directory, the policy file written from the ConfigMap), and the VM's
// domsplice.io/patch annotation goes through the real annotation-patch plugin on KubeVirt's
// domain, accepted by the ConfigMap's policy and by the built-in default, schema-valid.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { BINDING_PLUGIN_NAMES } from "../src/cli/serve.ts";
import { defineDomain } from "../src/hooks/calls.ts";
import { HookCallError } from "../src/hooks/call-error.ts";
import { PATCH_ANNOTATION } from "../src/plugins/annotation-patch.ts";
import { pluginOptions } from "../src/plugins/options.ts";
import { knownPluginNames, loadPlugins } from "../src/plugins/registry.ts";
import { corpus } from "./corpus-files.ts";
import { callMutateDomain, callOnDefineDomain, ensureArtifact, repoRoot, startSidecar, vmiJson } from "./hook-manager.ts";
import { schemaValidKubevirtDomain, validateDomain } from "./libvirt-schema.ts";

type Doc = Record<string, any>;

const deployDir = path.join(repoRoot, "deploy");
const packageJson = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
/** The one image name the examples use: a placeholder for the image users build and push. */
const IMAGE = `ghcr.io/domsplice/domsplice:${packageJson.version}`;
const HOOK_SIDECARS = "hooks.kubevirt.io/hookSidecars";
const kubevirtDomain = new Uint8Array(readFileSync(path.join(corpus, "kubevirt", "domain.xml")));
const utf8 = new TextEncoder();

const files = readdirSync(deployDir).filter((name) => name.endsWith(".yaml")).sort();
const documents: { file: string; doc: Doc }[] = files.flatMap((file) => {
  const text = readFileSync(path.join(deployDir, file), "utf8");
  return parseAllDocuments(text).map((parsed) => {
    assert.deepEqual(parsed.errors.map((error) => error.message), [], `${file}: YAML errors`);
    return { file, doc: parsed.toJSON() as Doc };
  });
});
const ofKind = (kind: string) => documents.filter(({ doc }) => doc?.kind === kind);

/** Option keys the built-in plugins read (options.get("KEY") in src/plugins). */
const knownOptionKeys = new Set(
  readdirSync(path.join(repoRoot, "src", "plugins"))
    .filter((name) => name.endsWith(".ts"))
    .flatMap((name) => [...readFileSync(path.join(repoRoot, "src", "plugins", name), "utf8").matchAll(/options\.get\("([\w.-]+)"\)/g)].map((match) => match[1])),
);

interface ServeArgs {
  readonly plugins: string[];
  readonly options: Map<string, string>;
  readonly socket?: string;
  readonly pluginSocket?: string;
}

/** `serve` args as the image gets them (after its entrypoint `/domsplice serve`). */
function serveArgs(args: readonly string[], where: string): ServeArgs {
  const parsed: { plugins: string[]; options: Map<string, string>; socket?: string; pluginSocket?: string } = { plugins: [], options: new Map() };
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    switch (args[i]) {
      case "--plugin":
        parsed.plugins.push(value);
        break;
      case "--option": {
        const eq = value.indexOf("=");
        assert.ok(eq > 0, `${where}: --option ${value} is not KEY=VALUE`);
        parsed.options.set(value.slice(0, eq), value.slice(eq + 1));
        break;
      }
      case "--socket":
        parsed.socket = value;
        break;
      case "--plugin-socket":
        parsed.pluginSocket = value;
        break;
      default:
        assert.fail(`${where}: unexpected serve argument ${JSON.stringify(args[i])}`);
    }
    i++;
  }
  for (const name of parsed.plugins) assert.ok(knownPluginNames().includes(name), `${where}: unknown plugin ${name}`);
  for (const key of parsed.options.keys()) assert.ok(knownOptionKeys.has(key), `${where}: no plugin reads option ${key} (known: ${[...knownOptionKeys].join(", ")})`);
  return parsed;
}

/** The VM's own VMI, as virt-launcher would send it: the shared VMI with the template's annotations. */
function vmiWithAnnotations(annotations: Record<string, string>): Uint8Array {
  const vmi = JSON.parse(vmiJson);
  Object.assign(vmi.metadata.annotations, annotations);
  return utf8.encode(JSON.stringify(vmi));
}

const hookSidecarVms = ofKind("VirtualMachine").filter(({ doc }) => doc.spec?.template?.metadata?.annotations?.[HOOK_SIDECARS] !== undefined);
const pluginResource = ofKind("Plugin");
const admissionPolicies = ofKind("MutatingAdmissionPolicy");

const scratch = mkdtempSync(path.join(tmpdir(), "domsplice-deploy-"));
/** An absolute path of the pod, moved into the scratch directory (its directory created). */
function inScratch(podPath: string): string {
  const moved = path.join(scratch, podPath);
  mkdirSync(path.dirname(moved), { recursive: true });
  return moved;
}
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("deploy/*.yaml", () => {
  test("there are examples for the bindings, the hookSidecars annotation and the Plugin API", () => {
    assert.ok(files.length >= 5, `deploy/ has ${files.join(", ")}`);
    assert.equal(ofKind("KubeVirt").length, 1);
    assert.equal(hookSidecarVms.length, 1);
    assert.equal(pluginResource.length, 1);
  });

  test("every document has apiVersion, kind and metadata.name", () => {
    for (const { file, doc } of documents) {
      assert.equal(typeof doc?.apiVersion, "string", `${file}: apiVersion`);
      assert.equal(typeof doc?.kind, "string", `${file}: kind`);
      assert.equal(typeof doc?.metadata?.name, "string", `${file}: metadata.name of a ${doc?.kind}`);
    }
  });

  test(`one image name throughout: ${IMAGE}`, () => {
    for (const file of files) {
      const images = new Set(readFileSync(path.join(deployDir, file), "utf8").match(/ghcr\.io\/[\w./-]+(:[\w.-]+)?/g) ?? []);
      for (const image of images) assert.equal(image, IMAGE, `${file}`);
    }
  });

  test("the KubeVirt CR registers exactly the binding plugins the image chooses by name, with the image", () => {
    const [{ doc }] = ofKind("KubeVirt");
    const bindings: Record<string, Doc> = doc.spec.configuration.network.binding;
    assert.deepEqual(Object.keys(bindings).sort(), [...BINDING_PLUGIN_NAMES].sort());
    for (const [name, binding] of Object.entries(bindings)) {
      assert.equal(binding.sidecarImage, IMAGE, `${name}: sidecarImage`);
      assert.ok(binding.computeResourceOverhead?.requests?.memory, `${name}: computeResourceOverhead.requests.memory`);
      if (binding.downwardAPI !== undefined) assert.equal(binding.downwardAPI, "device-info", `${name}: downwardAPI`);
      if (binding.domainAttachmentType !== undefined) assert.ok(["tap", "managedTap"].includes(binding.domainAttachmentType), `${name}: domainAttachmentType`);
    }
    assert.equal(bindings.tap.downwardAPI, "device-info", "the tap plugin reads MACs from the device-info file");
  });

  test("every binding has a VM using it, and every VM binds only registered bindings to networks it has", () => {
    const registered = Object.keys(ofKind("KubeVirt")[0].doc.spec.configuration.network.binding);
    const used = new Set<string>();
    for (const { file, doc } of ofKind("VirtualMachine")) {
      const spec = doc.spec.template.spec;
      for (const iface of spec.domain.devices.interfaces ?? []) {
        assert.ok((spec.networks ?? []).some((network: Doc) => network.name === iface.name), `${file}: interface ${iface.name} has no network`);
        if (iface.binding === undefined) continue;
        assert.ok(registered.includes(iface.binding.name), `${file}: binding ${iface.binding.name} is not registered`);
        used.add(iface.binding.name);
      }
    }
    assert.deepEqual([...used].sort(), [...registered].sort());
  });

  test("JSON in annotations parses", () => {
    let seen = 0;
    for (const { file, doc } of documents) {
      for (const annotations of [doc.metadata?.annotations, doc.spec?.template?.metadata?.annotations]) {
        for (const [key, value] of Object.entries((annotations ?? {}) as Record<string, string>)) {
          if (!/^\s*[[{]/.test(value)) continue;
          assert.doesNotThrow(() => JSON.parse(value), `${file}: annotation ${key} is not JSON`);
          seen++;
        }
      }
    }
    assert.ok(seen >= 2, "the hookSidecars and domsplice.io/patch annotations");
  });

  test("environment variables given to domsplice name plugins and options that exist", () => {
    const walk = (value: unknown, where: string): void => {
      if (Array.isArray(value)) return value.forEach((item, i) => walk(item, `${where}[${i}]`));
      if (value === null || typeof value !== "object") return;
      const record = value as Doc;
      if (typeof record.name === "string" && /^DOMSPLICE_/.test(record.name) && "value" in record) {
        if (record.name === "DOMSPLICE_PLUGINS") {
          for (const name of String(record.value).split(",").map((n) => n.trim()).filter(Boolean)) assert.ok(knownPluginNames().includes(name), `${where}: unknown plugin ${name}`);
        } else {
          const key = [...knownOptionKeys].find((candidate) => `DOMSPLICE_${candidate.toUpperCase().replace(/[-.]/g, "_")}` === record.name);
          assert.ok(key, `${where}: no plugin reads ${record.name}`);
        }
      }
      for (const [key, child] of Object.entries(record)) walk(child, `${where}.${key}`);
    };
    for (const { file, doc } of documents) walk(doc, file);
  });

  describe("the hookSidecars annotation with annotation-patch and the admin policy", () => {
    const { file, doc } = hookSidecarVms[0] ?? { file: "?", doc: {} };
    const annotations: Record<string, string> = doc.spec?.template?.metadata?.annotations ?? {};
    const [sidecar] = JSON.parse(annotations[HOOK_SIDECARS] ?? "[{}]");
    const args = serveArgs(sidecar.args ?? [], `${file} ${HOOK_SIDECARS}`);

    before(() => ensureArtifact());

    test("the sidecar runs the image with annotation-patch and the policy mounted from the ConfigMap", () => {
      assert.equal(sidecar.image, IMAGE);
      assert.deepEqual(args.plugins, ["annotation-patch"]);
      const configMap = ofKind("ConfigMap").find(({ doc: map }) => map.metadata.name === sidecar.configMap?.name);
      assert.ok(configMap, `no ConfigMap ${sidecar.configMap?.name} in deploy/`);
      assert.equal(typeof configMap.doc.data?.[sidecar.configMap.key], "string", `ConfigMap has no key ${sidecar.configMap.key}`);
      assert.equal(args.options.get("policy"), sidecar.configMap.hookPath, "--option policy= must be where the ConfigMap key is mounted");
    });

    test("the VM's domsplice.io/patch goes through dist/domsplice started with the annotation's args", async () => {
      const policy = ofKind("ConfigMap").find(({ doc: map }) => map.metadata.name === sidecar.configMap.name)!.doc.data[sidecar.configMap.key];
      const policyFile = inScratch(sidecar.configMap.hookPath);
      writeFileSync(policyFile, policy);
      const flags = [...args.options].flatMap(([key, value]) => ["--option", `${key}=${key === "policy" ? policyFile : value}`]);
      const sidecarProcess = await startSidecar("artifact", flags, { plugins: args.plugins });
      try {
        const vmi = vmiWithAnnotations(annotations);
        const patched = await callOnDefineDomain(sidecarProcess.socket, "v1alpha3", kubevirtDomain, vmi);
        assert.notDeepEqual(Buffer.from(patched), Buffer.from(kubevirtDomain), "the patch changed nothing");
        assert.match(new TextDecoder().decode(patched), /<cpu mode="host-passthrough"/);
        validateDomain(schemaValidKubevirtDomain(patched));
        const inProcess = await defineDomain({ plugins: await loadPlugins(["annotation-patch"], pluginOptions([`policy=${policyFile}`], {})), env: {} }, { domainXml: kubevirtDomain, vmiJson: vmi });
        if (inProcess instanceof HookCallError) assert.fail(inProcess.message);
        assert.deepEqual(Buffer.from(patched), Buffer.from(inProcess.domainXml));
      } finally {
        await sidecarProcess.stop();
      }
    });

    test("the built-in default policy accepts the same patch", async () => {
      const plugins = await loadPlugins(["annotation-patch"], pluginOptions([], {}));
      const outcome = await defineDomain({ plugins, env: {} }, { domainXml: kubevirtDomain, vmiJson: vmiWithAnnotations({ [PATCH_ANNOTATION]: annotations[PATCH_ANNOTATION] }) });
      if (outcome instanceof HookCallError) assert.fail(`refused by the default policy: ${outcome.message}`);
      assert.notDeepEqual(Buffer.from(outcome.domainXml), Buffer.from(kubevirtDomain));
    });
  });

  describe("the v1.9 Plugin resource and the policy that injects the sidecar", () => {
    const plugin = pluginResource[0]?.doc ?? {};
    const socketPath: string = plugin.spec?.domainHooks?.[0]?.sidecar?.socketPath ?? "";
    const policy = admissionPolicies[0]?.doc ?? {};
    const expression: string = policy.spec?.mutations?.[0]?.jsonPatch?.expression ?? "";
    const field = (name: string) => new RegExp(`\\b${name}:\\s*("[^"]*"|\\[[^\\]]*\\])`).exec(expression)?.[1];

    test("Plugin: plugin.kubevirt.io/v1alpha1, one sidecar domain hook on a socket in /var/run/kubevirt-plugin/<name>/", () => {
      assert.equal(plugin.apiVersion, "plugin.kubevirt.io/v1alpha1");
      assert.ok(socketPath.startsWith(`/var/run/kubevirt-plugin/${plugin.metadata.name}/`), socketPath);
      assert.ok(socketPath.endsWith(".sock") && socketPath.length <= 108, socketPath);
    });

    test("the MutatingAdmissionPolicy adds the image with --plugin-socket at the Plugin's socket, mounting only its own directory", () => {
      assert.equal(JSON.parse(field("image") ?? "null"), IMAGE);
      const args = serveArgs(JSON.parse(field("args") ?? "[]"), "MutatingAdmissionPolicy args");
      assert.equal(args.pluginSocket, socketPath);
      assert.ok(args.plugins.length > 0);
      assert.equal(JSON.parse(field("mountPath") ?? "null"), path.dirname(socketPath) + "/");
      assert.equal(JSON.parse(field("subPath") ?? "null"), plugin.metadata.name);
      assert.match(expression, /name: "kubevirt-plugin-sockets"/);
      const binding = ofKind("MutatingAdmissionPolicyBinding")[0]?.doc;
      assert.equal(binding?.spec?.policyName, policy.metadata.name);
    });

    test("dist/domsplice started with those args answers MutateDomain on the Plugin's socket", async () => {
      const args = serveArgs(JSON.parse(field("args") ?? "[]"), "MutatingAdmissionPolicy args");
      const reuse = { dir: scratch, socket: inScratch(args.socket ?? "/var/run/kubevirt-hooks/domsplice.sock"), pluginSocket: inScratch(args.pluginSocket!) };
      const sidecarProcess = await startSidecar("artifact", [], { plugins: args.plugins, reuse });
      try {
        const vmi = vmiWithAnnotations({ [PATCH_ANNOTATION]: JSON.stringify([{ op: "set", path: "/domain/cpu/@mode", value: "host-passthrough" }]) });
        for (const invocationContext of ["Boot", "MigrationSource", "MigrationTarget"] as const) {
          const domain = await callMutateDomain(reuse.pluginSocket, { domain: kubevirtDomain, vmi, invocationContext });
          assert.match(new TextDecoder().decode(domain), /<cpu mode="host-passthrough"/, invocationContext);
        }
      } finally {
        await sidecarProcess.stop();
      }
    });
  });
});
