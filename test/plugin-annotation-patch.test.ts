// The annotation-patch plugin, table-driven: one row per behaviour. A VMI carries a patch
// document (JSON or YAML) in the annotation domsplice.io/patch; the admin's policy (the built-in
// default, or a policy file written per row) decides. Rows cover each allowed area of the
// default policy, each denied one, attempts to get round the policy (`//`, `*`, `..`, other
// prefixes for qemu, predicates, siblings added from inside an area, ancestors created by
// ensure, subtree rewrites around a denied element), malformed documents (line:col), policy
// files (custom rules, deny wins, wildcards, extends) and policy file errors (file:line:col at
// start). Every row that applies is checked against the engine applying the same ops (the
// plugin adds nothing of its own, so it is as lossless as the engine), for idempotency when its
// ops are ensure/set/remove only (twice == once), and for libvirt's schema on KubeVirt's domain
// made schema-valid. Then one call through `bin/domsplice hook` with a policy file.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { patch, query, type PatchOp } from "../src/index.ts";
import { annotationOps, createAnnotationPatchPlugin, PATCH_ANNOTATION } from "../src/plugins/annotation-patch.ts";
import { pluginOptions } from "../src/plugins/options.ts";
import { PluginError, type Plugin, type Vmi } from "../src/plugins/types.ts";
import { corpus } from "./corpus-files.ts";
import { ensureNodeBundle, repoRoot } from "./hook-manager.ts";
import { schemaValidKubevirtDomain, validateDomain } from "./libvirt-schema.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const utf8 = new TextEncoder();

const kubevirtDomain = schemaValidKubevirtDomain(readFileSync(path.join(corpus, "kubevirt", "domain.xml")));
const scratch = mkdtempSync(path.join(tmpdir(), "domsplice-annotation-patch-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

let policyCount = 0;
function policyFile(content: string, extension = "yaml"): string {
  const file = path.join(scratch, `policy-${policyCount++}.${extension}`);
  writeFileSync(file, content);
  return file;
}

function patchVmi(document: string | readonly PatchOp[] | undefined): Vmi {
  const annotations: Record<string, string> = { "kubevirt.io/latest-observed-api-version": "v1" };
  if (document !== undefined) annotations[PATCH_ANNOTATION] = typeof document === "string" ? document : JSON.stringify(document);
  return { kind: "VirtualMachineInstance", apiVersion: "kubevirt.io/v1", metadata: { name: "testvmi", namespace: "mynamespace", annotations }, spec: { domain: { devices: {} } } };
}

const plugins = new Map<string, Plugin>();
async function pluginWith(policy?: string): Promise<Plugin> {
  const key = policy ?? "";
  if (!plugins.has(key)) plugins.set(key, await createAnnotationPatchPlugin(pluginOptions(policy === undefined ? [] : [`policy=${policy}`], {})));
  return plugins.get(key)!;
}

async function run(plugin: Plugin, domainXml: Uint8Array, vmi: Vmi): Promise<Uint8Array> {
  return plugin.onDefineDomain!({ vmi, vmiJson: utf8.encode(JSON.stringify(vmi)), env: {}, domainXml });
}

interface Row {
  readonly name: string;
  /** The annotation's value: ops (sent as JSON) or a document as written. */
  readonly patch: string | readonly PatchOp[];
  /** Policy file content (YAML); the built-in default when absent. */
  readonly policy?: string;
  readonly domain?: Uint8Array;
  readonly expect?: (output: Uint8Array) => void;
  readonly refused?: RegExp;
}

const value = (domain: Uint8Array, selector: string) => query(domain, selector).map((match) => match.value);
const DEFAULT = "policy built-in default";

const rows: Row[] = [
  // --- the default policy's areas, allowed
  {
    name: "default allows cpu: ensure and set the mode (JSON)",
    patch: [{ op: "ensure", path: "/domain/cpu" }, { op: "set", path: "/domain/cpu/@mode", value: "host-passthrough" }],
    expect: (output) => assert.deepEqual(value(output, "/domain/cpu/@mode"), ["host-passthrough"]),
  },
  {
    name: "default allows features, written as YAML",
    patch: "- op: ensure\n  path: /domain/features/pvspinlock\n- op: set\n  path: /domain/features/pvspinlock/@state\n  value: 'on'\n",
    expect: (output) => assert.deepEqual(value(output, "/domain/features/pvspinlock/@state"), ["on"]),
  },
  {
    name: "default allows clock: a timer created by ensure with its name",
    patch: [{ op: "ensure", path: "/domain/clock/timer[@name='hpet']" }, { op: "set", path: "/domain/clock/timer[@name='hpet']/@present", value: "no" }],
    expect: (output) => assert.deepEqual(value(output, "/domain/clock/timer[@name='hpet']/@present"), ["no"]),
  },
  {
    name: "default allows os/smbios",
    patch: [{ op: "set", path: "/domain/os/smbios/@mode", value: "host" }],
    expect: (output) => assert.deepEqual(value(output, "/domain/os/smbios/@mode"), ["host"]),
  },
  {
    name: "default allows sysinfo: an entry ensured and its text replaced",
    patch: [
      { op: "ensure", path: "/domain/sysinfo[@type='smbios']/chassis/entry[@name='asset']" },
      { op: "replace", path: "/domain/sysinfo[@type='smbios']/chassis/entry[@name='asset']/text()", value: "rack-7" },
    ],
    expect: (output) => assert.deepEqual(value(output, "/domain/sysinfo/chassis/entry[@name='asset']/text()"), ["rack-7"]),
  },
  {
    name: "default allows memoryBacking hugepages, creating a bare <memoryBacking> on the way",
    patch: [{ op: "ensure", path: "/domain/memoryBacking/hugepages" }],
    expect: (output) => assert.equal(query(output, "/domain/memoryBacking/hugepages").length, 1),
  },
  {
    name: "default allows disk driver tuning, the disk chosen by a predicate",
    patch: [{ op: "set", path: "/domain/devices/disk[target/@dev='vda']/driver/@cache", value: "none" }],
    expect: (output) => assert.deepEqual(value(output, "/domain/devices/disk[target/@dev='vda']/driver/@cache"), ["none"]),
  },
  {
    name: "default allows interface driver tuning (ensure inside an existing interface, then queues)",
    patch: [
      { op: "ensure", path: "/domain/devices/interface[@type='ethernet']/driver" },
      { op: "set", path: "/domain/devices/interface[alias/@name='ua-default']/driver/@queues", value: "4" },
    ],
    expect: (output) => assert.deepEqual(value(output, "/domain/devices/interface/driver/@queues"), ["4"]),
  },
  {
    name: "default allows video: the model replaced by a fragment",
    patch: [{ op: "replace", path: "/domain/devices/video/model", xml: "<model type='virtio' heads='1'/>" }],
    expect: (output) => assert.deepEqual(value(output, "/domain/devices/video/model/@type"), ["virtio"]),
  },
  {
    name: "default allows removing what an allowed area holds (a clock timer)",
    patch: [{ op: "remove", path: "/domain/clock/timer[@name='hypervclock']" }],
    expect: (output) => assert.equal(query(output, "/domain/clock/timer[@name='hypervclock']").length, 0),
  },
  {
    name: "no annotation: the domain comes back as the same bytes",
    patch: undefined as never,
  },

  // --- the default policy's explicit denials
  {
    name: "default denies qemu:commandline added to the domain",
    patch: [{ op: "add", path: "/domain", xml: "<qemu:commandline><qemu:arg value='-trace'/></qemu:commandline>" }],
    refused: /^annotation domsplice\.io\/patch: op 0 \(add \/domain\): \/domain\/qemu:commandline is denied by rule 'qemu-commandline' \(policy built-in default\)$/,
  },
  {
    name: "default denies qemu:commandline added as a sibling of an allowed element (add after /domain/cpu)",
    patch: [{ op: "add", path: "/domain/cpu", pos: "after", xml: "<qemu:commandline/>" }],
    refused: /op 0 \(add \/domain\/cpu\): \/domain\/qemu:commandline is denied by rule 'qemu-commandline'/,
  },
  {
    name: "default denies qemu:commandline under another prefix bound to QEMU's namespace",
    patch: [{ op: "set", path: "/domain/q:commandline/q:arg/@value", value: "-x", namespaces: { q: "http://libvirt.org/schemas/domain/qemu/1.0" } }],
    refused: /op 0 \(set \/domain\/q:commandline\/q:arg\/@value\): \/domain\/q:commandline\/q:arg\/@value is denied by rule 'qemu-commandline'/,
  },
  {
    name: "default denies qemu:commandline reached with *",
    patch: [{ op: "remove", path: "/domain/*" }],
    refused: /op 0 \(remove \/domain\/\*\): \/domain\/\* is denied by rule '(qemu-commandline|hostdev|emulator|seclabel|filesystem-source|disk-format)'/,
  },
  {
    name: "default denies qemu:commandline written unprefixed in QEMU's default namespace",
    patch: [{ op: "add", path: "/domain", xml: "<commandline xmlns='http://libvirt.org/schemas/domain/qemu/1.0'><arg value='-x'/></commandline>" }],
    refused: /\/domain\/commandline is denied by rule 'qemu-commandline'/,
  },
  {
    name: "default denies qemu:commandline smuggled as a second element of an allowed replace",
    patch: [{ op: "replace", path: "/domain/cpu", xml: "<cpu mode='host-passthrough'/><qemu:commandline/>" }],
    refused: /op 0 \(replace \/domain\/cpu\): \/domain\/qemu:commandline is denied by rule 'qemu-commandline'/,
  },
  {
    name: "default denies an emulator nested in an added fragment",
    policy: "extends: default\nrules:\n  - name: all-devices\n    allow: '*'\n    paths: [/domain/devices]\n",
    patch: [{ op: "replace", path: "/domain/devices/video", xml: "<video><model type='vga'/></video><emulator>/bin/sh</emulator>" }],
    refused: /\/domain\/devices\/emulator is denied by rule 'emulator'/,
  },
  {
    name: "default denies hostdev",
    patch: [{ op: "add", path: "/domain/devices", xml: "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev>" }],
    refused: /op 0 \(add \/domain\/devices\): \/domain\/devices\/hostdev is denied by rule 'hostdev'/,
  },
  {
    name: "default denies the emulator",
    patch: [{ op: "replace", path: "/domain/devices/emulator/text()", value: "/bin/sh" }],
    refused: /op 0 \(replace \/domain\/devices\/emulator\/text\(\)\): \/domain\/devices\/emulator\/text\(\) is denied by rule 'emulator'/,
  },
  {
    name: "default denies the emulator reached with //",
    patch: [{ op: "replace", path: "//emulator/text()", value: "/bin/sh" }],
    refused: /op 0 \(replace \/\/emulator\/text\(\)\): \/\/emulator\/text\(\) is denied by rule 'emulator'/,
  },
  {
    name: "default denies the emulator reached with /domain/*/emulator",
    patch: [{ op: "replace", path: "/domain/*/emulator/text()", value: "/bin/sh" }],
    refused: /denied by rule 'emulator'/,
  },
  {
    name: "default denies the emulator under a made-up prefix (compared by local name)",
    patch: [{ op: "set", path: "/domain/devices/x:emulator/@a", value: "1", namespaces: { x: "urn:x" } }],
    refused: /denied by rule 'emulator'/,
  },
  {
    name: "an interface/../emulator path does not parse: refused as malformed, naming the op",
    patch: [{ op: "set", path: "/domain/devices/interface/../emulator/@x", value: "1" }],
    refused: /^annotation domsplice\.io\/patch: op 0 \(set \/domain\/devices\/interface\/\.\.\/emulator\/@x\): .*bad selector .*'\.\.' is not a name/,
  },
  {
    name: "default denies removing <devices> (it holds the emulator)",
    patch: [{ op: "remove", path: "/domain/devices" }],
    refused: /op 0 \(remove \/domain\/devices\): \/domain\/devices is denied by rule '(emulator|hostdev|seclabel|filesystem-source|disk-format)'/,
  },
  {
    name: "default denies the domain seclabel",
    patch: [{ op: "ensure", path: "/domain/seclabel[@type='none']" }],
    refused: /denied by rule 'seclabel'/,
  },
  {
    name: "default denies a disk source's seclabel",
    patch: [{ op: "add", path: "/domain/devices/disk[target/@dev='vda']/source", xml: "<seclabel relabel='no'/>" }],
    refused: /\/domain\/devices\/disk\/source\/seclabel is denied by rule 'seclabel'/,
  },
  {
    name: "default denies filesystem sources",
    patch: [{ op: "set", path: "/domain/devices/filesystem/source/@dir", value: "/", optional: true }],
    refused: /denied by rule 'filesystem-source'/,
  },
  {
    name: "default denies the disk format even inside the disk driver area",
    patch: [{ op: "set", path: "/domain/devices/disk/driver/@type", value: "qcow2" }],
    refused: /\/domain\/devices\/disk\/driver\/@type is denied by rule 'disk-format'/,
  },
  {
    name: "default denies replacing a disk driver whole (it holds the format)",
    patch: [{ op: "replace", path: "/domain/devices/disk/driver", xml: "<driver name='qemu' type='qcow2'/>" }],
    refused: /op 0 \(replace \/domain\/devices\/disk\/driver\): \/domain\/devices\/disk\/driver is denied by rule 'disk-format'/,
  },

  // --- outside every area: denied by default
  {
    name: "default denies what no rule allows (the memory size), naming the op and the path",
    patch: [{ op: "replace", path: "/domain/memory/text()", value: "1" }],
    refused: /^annotation domsplice\.io\/patch: op 0 \(replace \/domain\/memory\/text\(\)\): no rule allows replace on \/domain\/memory\/text\(\) \(policy built-in default denies what no rule allows\)$/,
  },
  {
    name: "the op index is the refused op's, after allowed ones",
    patch: [{ op: "ensure", path: "/domain/cpu" }, { op: "set", path: "/domain/devices/interface/source/@dev", value: "eth9" }],
    refused: /op 1 \(set \/domain\/devices\/interface\/source\/@dev\): no rule allows set on \/domain\/devices\/interface\/source\/@dev/,
  },
  {
    name: "a sibling added from inside an area lands outside it (add after the interface driver)",
    patch: [{ op: "add", path: "/domain/devices/interface/driver", pos: "after", xml: "<source dev='eth9'/>" }],
    domain: patch(kubevirtDomain, [{ op: "ensure", path: "/domain/devices/interface/driver" }]) as Uint8Array,
    refused: /no rule allows add on \/domain\/devices\/interface\/source/,
  },
  {
    name: "ensure may not create an interface to put a driver in (predicates make it a real interface)",
    patch: [{ op: "ensure", path: "/domain/devices/interface[@type='vhostuser']/driver" }],
    refused: /op 0 \(ensure \/domain\/devices\/interface\[@type='vhostuser'\]\/driver\): would create \/domain\/devices\/interface \(it does not exist\), which is outside the areas of rule 'interface-driver'/,
  },
  {
    name: "a predicate does not widen an area: a child-value predicate naming the emulator is still only the interface",
    patch: [{ op: "set", path: "/domain/devices/interface[emulator='x']/@type", value: "user", optional: true }],
    refused: /no rule allows set on \/domain\/devices\/interface\/@type/,
  },
  {
    name: "* inside an allowed area is denied unless a rule allows wildcards",
    patch: [{ op: "remove", path: "/domain/cpu/*" }],
    refused: /no rule allows remove on \/domain\/cpu\/\*/,
  },
  {
    name: "// inside an allowed area is denied unless a rule allows wildcards",
    patch: [{ op: "remove", path: "/domain/features//hidden" }],
    refused: /no rule allows remove on \/domain\/features\/\/hidden/,
  },

  // --- malformed documents
  {
    name: "malformed JSON: line:col in the annotation",
    patch: '[{"op": "set",\n  "path": "/domain/cpu/@mode" "value": "x"}]',
    refused: /^annotation domsplice\.io\/patch:2:\d+: invalid YAML: /,
  },
  {
    name: "malformed YAML: line:col in the annotation",
    patch: "- op: set\n  path: /domain/cpu/@mode\n   value: x\n",
    refused: /^annotation domsplice\.io\/patch:[23]:\d+: invalid YAML: /,
  },
  {
    name: "a document that is not a list of ops",
    patch: "op: set\npath: /domain/cpu/@mode\n",
    refused: /^annotation domsplice\.io\/patch: the patch document is an object; expected an array of operations/,
  },
  {
    name: "an op the engine rejects (set without value), naming its index",
    patch: [{ op: "ensure", path: "/domain/cpu" }, { op: "set", path: "/domain/cpu/@mode" } as never],
    refused: /^annotation domsplice\.io\/patch: op 1 \(set \/domain\/cpu\/@mode\): /,
  },
  {
    name: "an op whose path matches nothing fails the call like the engine does",
    patch: [{ op: "set", path: "/domain/cpu/model/@fallback", value: "forbid" }],
    refused: /^annotation domsplice\.io\/patch: op 0 \(set \/domain\/cpu\/model\/@fallback\): .*no/i,
  },

  // --- policy files
  {
    name: "a policy file's attribute rule allows only that attribute",
    policy: "rules:\n  - name: queues-only\n    allow: [set]\n    paths: [/domain/devices/interface/driver/@queues]\n",
    domain: patch(kubevirtDomain, [{ op: "ensure", path: "/domain/devices/interface/driver" }]) as Uint8Array,
    patch: [{ op: "set", path: "/domain/devices/interface/driver/@queues", value: "8" }],
    expect: (output) => assert.deepEqual(value(output, "/domain/devices/interface/driver/@queues"), ["8"]),
  },
  {
    name: "a policy file without extends replaces the default (cpu is no longer allowed)",
    policy: "rules:\n  - name: queues-only\n    allow: [set]\n    paths: [/domain/devices/interface/driver/@queues]\n",
    patch: [{ op: "ensure", path: "/domain/cpu" }],
    refused: /no rule allows ensure on \/domain\/cpu \(policy .*policy-\d+\.yaml denies what no rule allows\)/,
  },
  {
    name: "deny wins: extends default plus a broad allow of devices still denies the emulator",
    policy: "extends: default\nrules:\n  - name: all-devices\n    allow: '*'\n    paths: [/domain/devices]\n",
    patch: [{ op: "replace", path: "/domain/devices/emulator/text()", value: "/bin/sh" }],
    refused: /denied by rule 'emulator' \(policy .*policy-\d+\.yaml\)/,
  },
  {
    name: "extends default plus a broad allow of devices lets a video be added",
    policy: "extends: default\nrules:\n  - name: all-devices\n    allow: '*'\n    paths: [/domain/devices]\n",
    patch: [{ op: "add", path: "/domain/devices", xml: "<watchdog model='i6300esb' action='reset'/>" }],
    expect: (output) => assert.deepEqual(value(output, "/domain/devices/watchdog/@action"), ["reset"]),
  },
  {
    name: "a deny rule for some ops only: set allowed, remove denied naming the rule",
    policy: "rules:\n  - name: cpu\n    allow: '*'\n    paths: [/domain/cpu]\n  - name: keep-cpu\n    deny: [remove]\n    paths: [/domain/cpu]\n",
    patch: [{ op: "set", path: "/domain/cpu/@mode", value: "host-passthrough" }, { op: "remove", path: "/domain/cpu" }],
    refused: /op 1 \(remove \/domain\/cpu\): \/domain\/cpu is denied by rule 'keep-cpu'/,
  },
  {
    name: "a rule path with * allows an op's * at that step",
    policy: "rules:\n  - name: any-driver-queues\n    allow: [set]\n    paths: [/domain/devices/*/driver/@queues]\n",
    domain: patch(kubevirtDomain, [{ op: "ensure", path: "/domain/devices/interface/driver" }]) as Uint8Array,
    patch: [{ op: "set", path: "/domain/devices/*/driver/@queues", value: "2" }],
    expect: (output) => assert.deepEqual(value(output, "/domain/devices/interface/driver/@queues"), ["2"]),
  },
  {
    name: "with extends default, an op's * that could be a hostdev is denied even where a rule allows *",
    policy: "extends: default\nrules:\n  - name: any-driver\n    allow: [set]\n    paths: [/domain/devices/*/driver]\n",
    patch: [{ op: "set", path: "/domain/devices/*/driver/@queues", value: "2" }],
    refused: /denied by rule 'hostdev'/,
  },
  {
    name: "wildcards: true lets * and // be used inside the rule's area",
    policy: "rules:\n  - name: features\n    allow: '*'\n    paths: [/domain/features]\n    wildcards: true\n",
    patch: [{ op: "remove", path: "/domain/features//vpindex" }],
    expect: (output) => assert.equal(query(output, "//vpindex").length, 0),
  },
  {
    name: "a JSON policy file",
    policy: '{"rules": [{"name": "clock", "allow": ["set"], "paths": ["/domain/clock"]}]}',
    patch: [{ op: "set", path: "/domain/clock/@offset", value: "localtime" }],
    expect: (output) => assert.deepEqual(value(output, "/domain/clock/@offset"), ["localtime"]),
  },
];

/** Ops that give the same bytes applied twice (README "The patch language"). */
const idempotentOps = (ops: readonly PatchOp[]) => ops.every((op) => op.op === "ensure" || op.op === "set" || op.op === "remove");

describe("annotation-patch: one row per behaviour (applied rows also match the engine, twice == once where the ops allow, schema-valid)", () => {
  for (const row of rows) {
    test(row.name, async () => {
      const plugin = await pluginWith(row.policy === undefined ? undefined : policyFile(row.policy, row.policy.startsWith("{") ? "json" : "yaml"));
      const domain = row.domain ?? kubevirtDomain;
      const vmi = patchVmi(row.patch as never);
      if (row.refused) {
        await assert.rejects(run(plugin, domain, vmi), (error: unknown) => {
          assert.ok(error instanceof PluginError, String(error));
          assert.match(error.message, row.refused!);
          return true;
        });
        return;
      }
      const output = await run(plugin, domain, vmi);
      if (row.patch === undefined) {
        assert.equal(output, domain);
        return;
      }
      row.expect?.(output);
      const ops = typeof row.patch === "string" ? await annotationOps(row.patch) : row.patch;
      assert.equal(text(output), text(patch(domain, ops as PatchOp[]) as Uint8Array), "exactly the engine's result: nothing else changes");
      if (idempotentOps(ops)) assert.equal(text(await run(plugin, output, vmi)), text(output), "twice == once");
      const verdict = validateDomain(output);
      assert.ok(verdict.valid, verdict.messages);
    });
  }
});

describe("annotation-patch: a bad policy file fails at start, naming the file and line", () => {
  const cases: { name: string; content: string; message: RegExp }[] = [
    { name: "YAML syntax", content: "rules:\n  - name: a\n   allow: x\n", message: /^policy .*policy-\d+\.yaml:3:\d+: invalid YAML\/JSON: / },
    { name: "JSON syntax", content: '{"rules": [\n  {"name": "a" "allow": "*"}\n]}', message: /^policy .*policy-\d+\.yaml:2:\d+: invalid YAML\/JSON: / },
    { name: "not a mapping", content: "- a\n", message: /^policy .*:1:1: expected a mapping with "rules"/ },
    { name: "an unknown top-level key", content: "rule:\n  - name: a\n", message: /^policy .*:1:1: unknown key 'rule' \(expected extends, rules\)$/ },
    { name: "rules not a list", content: "rules: cpu\n", message: /^policy .*:1:8: "rules" must be a list/ },
    { name: "a rule without a name", content: "rules:\n  - allow: '*'\n    paths: [/domain/cpu]\n", message: /^policy .*:2:5: a rule needs a name/ },
    { name: "an unknown rule key (typo)", content: "rules:\n  - name: a\n    allow: '*'\n    path: [/domain/cpu]\n", message: /^policy .*:4:5: unknown rule key 'path'/ },
    { name: "both allow and deny", content: "rules:\n  - name: a\n    allow: '*'\n    deny: '*'\n    paths: [/domain/cpu]\n", message: /^policy .*:2:11: rule 'a': give exactly one of allow or deny/ },
    { name: "an unknown op", content: "rules:\n  - name: a\n    allow: [patch]\n    paths: [/domain/cpu]\n", message: /^policy .*:3:12: rule 'a': 'patch' is not an op/ },
    { name: "a path that is no selector", content: "rules:\n  - name: a\n    allow: '*'\n    paths: [domain/cpu]\n", message: /^policy .*:4:12: rule 'a': path domain\/cpu: bad selector/ },
    { name: "a predicate in a path", content: "rules:\n  - name: a\n    allow: '*'\n    paths: [\"/domain/devices/disk[@device='disk']\"]\n", message: /^policy .*:4:12: rule 'a': path .*: predicates are not allowed/ },
    { name: "text() in a path", content: "rules:\n  - name: a\n    allow: '*'\n    paths: [/domain/cpu/text()]\n", message: /rule 'a': path \/domain\/cpu\/text\(\): a rule names elements or attributes, not text\(\)/ },
    { name: "a prefix other than qemu", content: "rules:\n  - name: a\n    deny: '*'\n    paths: [/domain/x:y]\n", message: /rule 'a': path \/domain\/x:y: the only prefix a policy path may use is qemu/ },
    { name: "a name used twice", content: "rules:\n  - name: a\n    allow: '*'\n    paths: [/domain/cpu]\n  - name: a\n    allow: '*'\n    paths: [/domain/clock]\n", message: /^policy .*:5:11: rule name 'a' is used twice/ },
    { name: "a name the default already has, with extends", content: "extends: default\nrules:\n  - name: cpu\n    allow: '*'\n    paths: [/domain/cpu]\n", message: /:3:11: rule name 'cpu' is used twice/ },
    { name: "a bad extends", content: "extends: builtin\nrules: []\n", message: /^policy .*:1:10: extends must be "default" or "none"/ },
    { name: "wildcards on a deny rule", content: "rules:\n  - name: a\n    deny: '*'\n    paths: [/domain/cpu]\n    wildcards: true\n", message: /rule 'a': wildcards is for allow rules/ },
  ];
  for (const { name, content, message } of cases) {
    test(name, async () => {
      const file = policyFile(content);
      await assert.rejects(async () => createAnnotationPatchPlugin(pluginOptions([`policy=${file}`], {})), (error: unknown) => {
        assert.ok(error instanceof PluginError, String(error));
        assert.ok(error.message.includes(file), error.message);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  test("a missing policy file", async () => {
    const file = path.join(scratch, "missing.yaml");
    await assert.rejects(async () => createAnnotationPatchPlugin(pluginOptions([`policy=${file}`], {})), (error: unknown) => {
      assert.ok(error instanceof PluginError);
      assert.ok(error.message.startsWith(`policy ${file}: cannot read it: `), error.message);
      return true;
    });
  });

  test("the policy file from DOMSPLICE_POLICY when there is no --option", async () => {
    const file = policyFile("rules:\n  - name: clock-only\n    allow: '*'\n    paths: [/domain/clock]\n");
    const plugin = await createAnnotationPatchPlugin(pluginOptions([], { DOMSPLICE_POLICY: file }));
    await assert.rejects(run(plugin, kubevirtDomain, patchVmi([{ op: "ensure", path: "/domain/cpu" }])), /no rule allows ensure on \/domain\/cpu/);
  });
});

describe("annotation-patch through domsplice hook", () => {
  before(async () => {
    await ensureNodeBundle();
  });

  test("bin/domsplice hook --plugin annotation-patch --option policy=FILE: applies an allowed patch; a denied one is one line, exit 2", () => {
    const domainFile = path.join(corpus, "kubevirt", "domain.xml");
    const file = policyFile("extends: default\nrules: []\n");
    const cli = (ops: readonly PatchOp[]) => [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", "annotation-patch", "--option", `policy=${file}`, "--vmi", JSON.stringify(patchVmi(ops)), "--domain", domainFile];
    const ops: PatchOp[] = [{ op: "set", path: "/domain/cpu/@mode", value: "host-passthrough" }];
    const ok = spawnSync(process.execPath, cli(ops), { encoding: "buffer", timeout: 20_000 });
    assert.equal(ok.status, 0, ok.stderr.toString());
    assert.equal(text(ok.stdout), text(patch(readFileSync(domainFile), ops) as Uint8Array));

    const refused = spawnSync(process.execPath, cli([{ op: "add", path: "/domain", xml: "<qemu:commandline/>" }]), { encoding: "utf8", timeout: 20_000 });
    assert.equal(refused.status, 2);
    assert.equal(refused.stdout, "");
    assert.match(refused.stderr, /^[^\n]*plugin annotation-patch: annotation domsplice\.io\/patch: op 0 \(add \/domain\): \/domain\/qemu:commandline is denied by rule 'qemu-commandline' \(policy [^\n]*\)\n$/);
  });
});
