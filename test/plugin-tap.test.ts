// The tap network binding plugin, table-driven: one row per behaviour, on KubeVirt-shaped VMIs
// and virt-launcher's real domain XML (whose ua-default interface is the ethernet interface
// virt-launcher writes for a binding registered with `domainAttachmentType: tap`). The pod's
// devices (/sys/class/net) and the downward API file (/etc/podinfo/network-info) are temp
// files per row. Every row that succeeds is also checked for idempotency (twice == once),
// losslessness (the document outside the interfaces aliased ua-<name> is byte-identical to the
// input) and libvirt's schema (the output validates on KubeVirt's domain made schema-valid).
// Then one call through `bin/domsplice hook`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { patch, query, type PatchOp } from "../src/index.ts";
import { createTapPlugin } from "../src/plugins/tap.ts";
import { hashedPodInterfaceName } from "../src/plugins/pod-interface.ts";
import { pluginOptions } from "../src/plugins/options.ts";
import { PluginError, type HookEnv, type Plugin, type Vmi } from "../src/plugins/types.ts";
import { corpus } from "./corpus-files.ts";
import { ensureNodeBundle, repoRoot } from "./hook-manager.ts";
import { schemaValidKubevirtDomain, validateDomain } from "./libvirt-schema.ts";

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const kubevirtDomain = readFileSync(path.join(corpus, "kubevirt", "domain.xml"));
const scratch = mkdtempSync(path.join(tmpdir(), "domsplice-tap-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const RED_POD_INTERFACE = hashedPodInterfaceName("red"); // KubeVirt's own test: podb1f51a511f1
const RED_TAP = "tap" + RED_POD_INTERFACE.slice(3);

/** A pod as the sidecar sees it: devices (name -> MTU) and the network-info file's content. */
interface Pod {
  readonly devices?: Readonly<Record<string, number>>;
  readonly networkInfo?: string;
}

let podCount = 0;
function podOptions(pod: Pod = {}, extra: readonly string[] = []): string[] {
  const dir = path.join(scratch, `pod-${podCount++}`);
  const sysClassNet = path.join(dir, "sys-class-net");
  mkdirSync(sysClassNet, { recursive: true });
  for (const [device, mtu] of Object.entries(pod.devices ?? { eth0: 1500 })) {
    mkdirSync(path.join(sysClassNet, device));
    writeFileSync(path.join(sysClassNet, device, "mtu"), `${mtu}\n`);
  }
  const networkInfo = path.join(dir, "network-info");
  if (pod.networkInfo !== undefined) writeFileSync(networkInfo, pod.networkInfo);
  return [`sys-class-net=${sysClassNet}`, `network-info=${networkInfo}`, ...extra];
}

// ---------------------------------------------------------------------------------------------
// The VMI: as virt-launcher sends it for a VM on the pod network with the tap binding

interface VmiShape {
  readonly iface?: Record<string, unknown>;
  readonly interfaces?: readonly Record<string, unknown>[];
  readonly networks?: readonly Record<string, unknown>[];
  readonly statusInterfaces?: readonly Record<string, unknown>[];
  readonly useVirtioTransitional?: boolean;
}

function tapVmi(shape: VmiShape = {}): Vmi {
  const iface = { name: "default", binding: { name: "tap" }, ...shape.iface };
  return {
    kind: "VirtualMachineInstance",
    apiVersion: "kubevirt.io/v1",
    metadata: { name: "testvmi", namespace: "mynamespace", uid: "e4686d2c-6e8d-4335-b8fd-81bee22f4814" },
    spec: {
      domain: {
        devices: {
          interfaces: shape.interfaces ?? [iface],
          ...(shape.useVirtioTransitional === undefined ? {} : { useVirtioTransitional: shape.useVirtioTransitional }),
        },
      },
      networks: shape.networks ?? [{ name: "default", pod: {} }],
    },
    status: { phase: "Scheduled", interfaces: shape.statusInterfaces ?? [{ name: "default", podInterfaceName: "eth0", infoSource: "domain" }] },
  } as unknown as Vmi;
}

/** Markup without the whitespace between tags, and `<x></x>` written `<x/>`, "..." quotes. */
function compact(markup: string): string {
  return markup
    .replace(/>\s+</g, "><")
    .replace(/<([\w:]+)([^<>]*?)><\/\1>/g, "<$1$2/>")
    .replace(/='([^']*)'/g, '="$1"');
}

const interfaceOf = (domain: Uint8Array, name = "default") => query(domain, `/domain/devices/interface[alias/@name='ua-${name}']`).map((m) => compact(m.value));

/** The document with the interfaces of `names` taken out (their lines too). */
function outsideEditedRegions(domain: Uint8Array, names: readonly string[]): string {
  const ops: PatchOp[] = names.map((name) => ({ op: "remove", path: `/domain/devices/interface[alias/@name='ua-${name}']` }));
  return text(patch(domain, ops) as Uint8Array);
}

async function runPlugin(plugin: Plugin, domainXml: Uint8Array, vmi: Vmi, env: HookEnv = {}): Promise<Uint8Array> {
  return plugin.onDefineDomain!({ domainXml, vmi, vmiJson: utf8.encode(JSON.stringify(vmi)), env });
}

// virt-launcher's ua-default interface as edited in place: its own children first, ours after.
const editedDefault = (more: string) => `<interface type="ethernet"><source/><model type="virtio-non-transitional"/><alias name="ua-default"/><rom enabled="no"/>${more}</interface>`;
const appended = (name: string, inner: { before?: string; target: string; model?: string; mac?: string; mtu?: number; after?: string }) =>
  `<interface type="ethernet">${inner.before ?? ""}<target dev="${inner.target}" managed="no"/><model type="${inner.model ?? "virtio-non-transitional"}"/>` +
  (inner.mac ? `<mac address="${inner.mac}"/>` : "") +
  (inner.mtu ? `<mtu size="${inner.mtu}"/>` : "") +
  `<alias name="ua-${name}"/><rom enabled="no"/>${inner.after ?? ""}</interface>`;

/** KubeVirt's domain without its ua-default interface. */
const domainWithoutPodInterface = () => patch(kubevirtDomain, [{ op: "remove", path: "/domain/devices/interface[alias/@name='ua-default']" }]) as Uint8Array;

const networkInfo = (entries: readonly Record<string, unknown>[]) => JSON.stringify({ interfaces: entries });

// ---------------------------------------------------------------------------------------------
// The table

interface Row {
  readonly name: string;
  readonly vmi?: VmiShape;
  readonly env?: HookEnv;
  readonly pod?: Pod;
  readonly options?: readonly string[];
  /** Default: KubeVirt's domain.xml. */
  readonly domain?: Uint8Array;
  /** The interfaces expected (compact form) by name, or the refusal expected. */
  readonly interfaces?: Readonly<Record<string, string>>;
  readonly refusal?: RegExp;
  readonly also?: (output: Uint8Array, input: Uint8Array) => void;
}

const rows: readonly Row[] = [
  {
    name: "pod network interface bound to tap: virt-launcher's ethernet interface is edited in place (target = the pod interface, managed=no; MTU of the device), its own children kept",
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/><mtu size="1500"/>`) },
    also(output) {
      assert.equal(query(output, "/domain/devices/interface").length, 1, "edited, not added beside");
      assert.match(text(output), /\n      <rom enabled="no"><\/rom>\n      <target dev="eth0" managed="no"><\/target>\n/, "virt-launcher's own style");
    },
  },
  {
    name: "KubeVirt's tap device for the pod network (tap0) present in the pod: the target is tap0, with its MTU",
    pod: { devices: { eth0: 1500, tap0: 1400 } },
    interfaces: { default: editedDefault(`<target dev="tap0" managed="no"/><mtu size="1400"/>`) },
  },
  {
    name: "MTU unknown (the device is not visible in the pod's sysfs): no <mtu>",
    pod: { devices: {} },
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/>`) },
  },
  {
    name: "macAddress of the VMI interface becomes <mac>",
    vmi: { iface: { macAddress: "02:00:00:00:00:01" } },
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/><mac address="02:00:00:00:00:01"/><mtu size="1500"/>`) },
  },
  {
    name: "no macAddress in the VMI: the CNI's MAC from the downward API file (kubevirt.io/network-info) by network name",
    pod: { devices: { eth0: 1500 }, networkInfo: networkInfo([{ network: "other", mac: "02:00:00:00:00:09" }, { network: "default", mac: "3a:17:d7:e5:0f:08", deviceInfo: { type: "pci", version: "1.0.0", pci: { "pci-address": "0000:65:00.4" } } }]) },
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/><mac address="3a:17:d7:e5:0f:08"/><mtu size="1500"/>`) },
  },
  {
    name: "the VMI's macAddress wins over the downward API file",
    vmi: { iface: { macAddress: "02:00:00:00:00:01" } },
    pod: { devices: { eth0: 1500 }, networkInfo: networkInfo([{ network: "default", mac: "3a:17:d7:e5:0f:08" }]) },
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/><mac address="02:00:00:00:00:01"/><mtu size="1500"/>`) },
  },
  {
    name: "downward API file empty (KubeVirt has not written the annotation yet): no <mac>, libvirt picks one",
    pod: { devices: { eth0: 1500 }, networkInfo: "" },
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/><mtu size="1500"/>`) },
  },
  {
    name: "model virtio with useVirtioTransitional: virtio-transitional, set in place",
    vmi: { iface: { model: "virtio" }, useVirtioTransitional: true },
    interfaces: { default: `<interface type="ethernet"><source/><model type="virtio-transitional"/><alias name="ua-default"/><rom enabled="no"/><target dev="eth0" managed="no"/><mtu size="1500"/></interface>` },
  },
  {
    name: "model e1000 of the VMI is kept as it is",
    vmi: { iface: { model: "e1000" } },
    interfaces: { default: `<interface type="ethernet"><source/><model type="e1000"/><alias name="ua-default"/><rom enabled="no"/><target dev="eth0" managed="no"/><mtu size="1500"/></interface>` },
  },
  {
    name: "no interface aliased ua-<name>: a complete one is appended to <devices> (PCI address, ACPI index)",
    domain: domainWithoutPodInterface(),
    vmi: { iface: { pciAddress: "0000:02:01.0", acpiIndex: 3, macAddress: "02:00:00:00:00:01" } },
    interfaces: {
      default: appended("default", {
        before: `<address type="pci" domain="0x0000" bus="0x02" slot="0x01" function="0x0"/>`,
        target: "eth0",
        mac: "02:00:00:00:00:01",
        mtu: 1500,
        after: `<acpi index="3"/>`,
      }),
    },
    also(output) {
      assert.ok(compact(query(output, "/domain/devices")[0].value).endsWith(`</interface></devices>`), "last child of <devices>");
    },
  },
  {
    name: "an interface of another type aliased ua-<name> (e.g. left by passt) is replaced whole",
    domain: patch(kubevirtDomain, [{ op: "replace", path: "/domain/devices/interface[alias/@name='ua-default']", xml: `<interface type="vhostuser"><source dev="eth0"/><model type="virtio-non-transitional"/><alias name="ua-default"/><backend type="passt"/></interface>` }]) as Uint8Array,
    interfaces: { default: appended("default", { target: "eth0", mtu: 1500 }) },
  },
  {
    name: "an ethernet interface with a stale target and MAC: set in place; its boot order and driver stay",
    domain: patch(kubevirtDomain, [{ op: "add", path: "/domain/devices/interface[alias/@name='ua-default']", pos: "append", xml: `<target dev="tap9" managed="yes"/><mac address="02:00:00:00:00:99"/><boot order="1"/><driver name="vhost" queues="4"/>` }]) as Uint8Array,
    vmi: { iface: { macAddress: "02:00:00:00:00:01" } },
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/><mac address="02:00:00:00:00:01"/><boot order="1"/><driver name="vhost" queues="4"/><mtu size="1500"/>`) },
  },
  {
    name: "secondary Multus network with no status yet: KubeVirt's hashed pod interface name (pod + 11 hex digits of sha256)",
    domain: domainWithoutPodInterface(),
    vmi: { iface: { name: "red" }, networks: [{ name: "red", multus: { networkName: "red-nad" } }], statusInterfaces: [] },
    pod: { devices: { [RED_POD_INTERFACE]: 9000 } },
    interfaces: { red: appended("red", { target: "podb1f51a511f1", mtu: 9000 }) },
  },
  {
    name: "secondary Multus network whose tap KubeVirt named (tap + the hash) exists: the target is that tap",
    domain: domainWithoutPodInterface(),
    vmi: { iface: { name: "red" }, networks: [{ name: "red", multus: { networkName: "red-nad" } }], statusInterfaces: [] },
    pod: { devices: { [RED_POD_INTERFACE]: 9000, [RED_TAP]: 8950 } },
    interfaces: { red: appended("red", { target: "tapb1f51a511f1", mtu: 8950 }) },
  },
  {
    name: "pod interface name from status.interfaces (a pod with ordinal names: net1, tap1)",
    domain: domainWithoutPodInterface(),
    vmi: { iface: { name: "red" }, networks: [{ name: "red", multus: { networkName: "red-nad" } }], statusInterfaces: [{ name: "red", podInterfaceName: "net1" }] },
    pod: { devices: { net1: 1500, tap1: 1500 } },
    interfaces: { red: appended("red", { target: "tap1", mtu: 1500 }) },
  },
  {
    name: "Multus default network: eth0",
    vmi: { networks: [{ name: "default", multus: { networkName: "ovn-primary", default: true } }], statusInterfaces: [] },
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/><mtu size="1500"/>`) },
  },
  {
    name: "setting target-dev=pod: the pod interface even when KubeVirt's tap exists",
    pod: { devices: { eth0: 1500, tap0: 1400 } },
    options: ["target-dev=pod"],
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/><mtu size="1500"/>`) },
  },
  {
    name: "setting target-dev=tap: KubeVirt's tap name even when the sidecar cannot see it",
    pod: { devices: {} },
    options: ["target-dev=tap"],
    interfaces: { default: editedDefault(`<target dev="tap0" managed="no"/>`) },
  },
  {
    name: "every interface bound to tap is handled; interfaces of other bindings are left alone",
    vmi: {
      interfaces: [
        { name: "default", binding: { name: "tap" } },
        { name: "blue", bridge: {} },
        { name: "red", binding: { name: "tap" } },
      ],
      networks: [
        { name: "default", pod: {} },
        { name: "blue", multus: { networkName: "blue" } },
        { name: "red", multus: { networkName: "red" } },
      ],
    },
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/><mtu size="1500"/>`), red: appended("red", { target: "podb1f51a511f1" }) },
  },
  {
    name: "binding name from NETWORK_BINDING_PLUGIN_NAME",
    vmi: { iface: { binding: { name: "kube-ovn-tap" } } },
    env: { NETWORK_BINDING_PLUGIN_NAME: "kube-ovn-tap" },
    interfaces: { default: editedDefault(`<target dev="eth0" managed="no"/><mtu size="1500"/>`) },
  },
  // -- refusals
  {
    name: "refused: no interface bound to tap",
    vmi: { iface: { binding: { name: "passt" } } },
    refusal: /^no interface in spec\.domain\.devices\.interfaces is set with the "tap" network binding plugin$/,
  },
  {
    name: "refused: interface without a network of the same name",
    vmi: { networks: [{ name: "other", pod: {} }] },
    refusal: /^interface "default" has no network of the same name in spec\.networks$/,
  },
  {
    name: "refused: an invalid MAC address",
    pod: { devices: { eth0: 1500 }, networkInfo: networkInfo([{ network: "default", mac: "not-a-mac" }]) },
    refusal: /^interface "default": invalid MAC address "not-a-mac"$/,
  },
  {
    name: "refused: a downward API file that is not JSON",
    pod: { devices: { eth0: 1500 }, networkInfo: "{interfaces:" },
    refusal: /network-info \(annotation kubevirt\.io\/network-info\) is not JSON: /,
  },
  {
    name: "refused: an invalid pciAddress",
    domain: domainWithoutPodInterface(),
    vmi: { iface: { pciAddress: "0000:02:01" } },
    refusal: /^interface "default": invalid pciAddress "0000:02:01"/,
  },
];

describe("tap: one row per behaviour (each also twice == once, lossless, schema-valid)", () => {
  for (const row of rows) {
    test(row.name, async () => {
      const plugin = await createTapPlugin(pluginOptions(podOptions(row.pod, row.options), {}));
      const input = row.domain ?? kubevirtDomain;
      const vmi = tapVmi(row.vmi);
      if (row.refusal) {
        await assert.rejects(async () => runPlugin(plugin, input, vmi, row.env), (error: unknown) => {
          assert.ok(error instanceof PluginError, `a PluginError, got ${String(error)}`);
          assert.match(error.message, row.refusal!);
          return true;
        });
        return;
      }
      const output = await runPlugin(plugin, input, vmi, row.env);
      const names = Object.keys(row.interfaces!);
      for (const name of names) assert.deepEqual(interfaceOf(output, name), [row.interfaces![name]], `ua-${name}`);
      row.also?.(output, input);
      assert.equal(text(await runPlugin(plugin, output, vmi, row.env)), text(output), "twice == once");
      assert.equal(outsideEditedRegions(output, names), outsideEditedRegions(input, names), "lossless outside the ua-<name> interfaces");
      const schemaInput = schemaValidKubevirtDomain(input);
      if (validateDomain(schemaInput).valid) {
        const verdict = validateDomain(await runPlugin(plugin, schemaInput, vmi, row.env));
        assert.ok(verdict.valid, verdict.messages);
      } else {
        assert.ok(row.domain !== undefined, "KubeVirt's domain made schema-valid validates");
      }
    });
  }
});

describe("tap on every KubeVirt corpus domain", () => {
  test("the ua-default interface edited or appended, twice == once, lossless, schema-valid wherever the input was", async () => {
    const plugin = await createTapPlugin(pluginOptions(podOptions({ devices: { eth0: 1500, tap0: 1400 } }), {}));
    const vmi = tapVmi({ iface: { macAddress: "02:00:00:00:00:01" } });
    for (const file of readdirSync(path.join(corpus, "kubevirt")).filter((name) => name.endsWith(".xml"))) {
      const input = readFileSync(path.join(corpus, "kubevirt", file));
      const output = await runPlugin(plugin, input, vmi);
      const [found] = query(output, "/domain/devices/interface[alias/@name='ua-default']");
      assert.ok(found, file);
      assert.ok(compact(found.value).includes(`<target dev="tap0" managed="no"/>`), `${file}: ${found.value}`);
      assert.equal(text(await runPlugin(plugin, output, vmi)), text(output), `${file}: twice == once`);
      assert.equal(outsideEditedRegions(output, ["default"]), outsideEditedRegions(input, ["default"]), `${file}: lossless`);
      const schemaInput = schemaValidKubevirtDomain(input);
      if (validateDomain(schemaInput).valid) {
        const verdict = validateDomain(await runPlugin(plugin, schemaInput, vmi));
        assert.ok(verdict.valid, `${file}: ${verdict.messages}`);
      }
    }
  });
});

describe("tap: settings", () => {
  test("target-dev other than auto, pod or tap: the factory refuses, naming the option", () => {
    assert.throws(
      () => createTapPlugin(pluginOptions(["target-dev=veth"], {})),
      (error: unknown) => error instanceof PluginError && error.message === `option target-dev: "veth" is not one of auto, pod, tap`,
    );
  });

  test("no settings at all: the defaults (/etc/podinfo/network-info, /sys/class/net) work", async () => {
    const plugin = await createTapPlugin(pluginOptions([], {}));
    const output = await runPlugin(plugin, kubevirtDomain, tapVmi({ iface: { macAddress: "02:00:00:00:00:01" } }));
    assert.equal(query(output, "/domain/devices/interface[alias/@name='ua-default']/target/@managed")[0]?.value, "no");
  });
});

describe("tap through domsplice hook", () => {
  before(async () => {
    await ensureNodeBundle();
  });

  test("bin/domsplice hook --plugin tap: prints the domain with the ethernet interface; a refusal is one line, exit 2", () => {
    const vmi = JSON.stringify(tapVmi({ iface: { macAddress: "02:00:00:00:00:01" } }));
    const domainFile = path.join(corpus, "kubevirt", "domain.xml");
    const options = podOptions({ devices: { eth0: 1500, tap0: 1450 } }).flatMap((option) => ["--option", option]);
    const cli = [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", "tap", ...options, "--vmi", vmi, "--domain", domainFile];
    const run = spawnSync(process.execPath, cli, { encoding: "buffer", timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr.toString());
    assert.deepEqual(interfaceOf(run.stdout), [editedDefault(`<target dev="tap0" managed="no"/><mac address="02:00:00:00:00:01"/><mtu size="1450"/>`)]);

    const refused = spawnSync(process.execPath, cli, { encoding: "utf8", timeout: 20_000, env: { ...process.env, NETWORK_BINDING_PLUGIN_NAME: "other" } });
    assert.equal(refused.status, 2);
    assert.equal(refused.stdout, "");
    assert.match(refused.stderr, /^[^\n]*plugin tap: no interface in spec\.domain\.devices\.interfaces is set with the "other" network binding plugin\n$/);
  });
});
