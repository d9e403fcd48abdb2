// The passt network binding plugin, table-driven like KubeVirt's own
// cmd/sidecars/network-passt-binding/domain tests: one row per behaviour, on KubeVirt-shaped
// VMIs and virt-launcher's real domain XML (plus libvirt's own passt and hugepages domains).
// Every row that succeeds is also checked for idempotency (twice == once), losslessness (the
// document outside <memoryBacking> and the passt <interface> is byte-identical to the input)
// and libvirt's schema (the output validates on KubeVirt's domain made schema-valid). Then one
// call through `bin/domsplice hook` and one through `serve` with virt-launcher's hook manager.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { patch, query, type PatchOp } from "../src/index.ts";
import { createPasstPlugin, ISTIO_RESERVED_PORTS } from "../src/plugins/passt.ts";
import { PluginError, type HookEnv, type Plugin, type Vmi } from "../src/plugins/types.ts";
import { corpus } from "./corpus-files.ts";
import { ensureNodeBundle, HookManager, repoRoot, startSidecar, type SidecarProcess } from "./hook-manager.ts";
import { schemaValidKubevirtDomain, validateDomain, validatePasstDomain } from "./libvirt-schema.ts";

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const kubevirtDomain = readFileSync(path.join(corpus, "kubevirt", "domain.xml"));
const libvirtPasstDomain = readFileSync(path.join(corpus, "libvirt-domains", "qemuxmlconfdata", "net-user-passt.xml"));
const libvirtHugepagesDomain = readFileSync(path.join(corpus, "libvirt-domains", "qemuxmlconfdata", "vhost-user-fs-hugepages.xml"));

const PASST_BACKEND = `<backend type="passt" logFile="/var/run/kubevirt/passt.log"/>`;
const FORWARD_ALL = `<portForward proto="tcp"/><portForward proto="udp"/>`;
const ISTIO_EXCLUDES = ISTIO_RESERVED_PORTS.map((port) => `<range start="${port}" exclude="yes"/>`).join("");

// ---------------------------------------------------------------------------------------------
// The VMI: as virt-launcher sends it for a VM on the pod network with the passt binding

interface VmiShape {
  readonly iface?: Record<string, unknown>;
  readonly interfaces?: readonly Record<string, unknown>[];
  readonly networks?: readonly Record<string, unknown>[];
  readonly statusInterfaces?: readonly Record<string, unknown>[];
  readonly annotations?: Record<string, string>;
  readonly useVirtioTransitional?: boolean;
}

function passtVmi(shape: VmiShape = {}): Vmi {
  const iface = { name: "default", binding: { name: "passt" }, ...shape.iface };
  const vmi = {
    kind: "VirtualMachineInstance",
    apiVersion: "kubevirt.io/v1",
    metadata: {
      name: "testvmi",
      namespace: "mynamespace",
      uid: "e4686d2c-6e8d-4335-b8fd-81bee22f4814",
      annotations: { "kubevirt.io/latest-observed-api-version": "v1", ...shape.annotations },
    },
    spec: {
      domain: {
        devices: {
          interfaces: shape.interfaces ?? [iface],
          ...(shape.useVirtioTransitional === undefined ? {} : { useVirtioTransitional: shape.useVirtioTransitional }),
        },
      },
      networks: shape.networks ?? [{ name: "default", pod: {} }],
    },
    status: {
      phase: "Scheduled",
      interfaces: shape.statusInterfaces ?? [{ name: "default", mac: "02:7e:2c:00:00:01", podInterfaceName: "eth0", infoSource: "domain" }],
    },
  };
  // Shaped as virt-launcher sends it; rows also send what the typed view does not model.
  return vmi as unknown as Vmi;
}

// ---------------------------------------------------------------------------------------------
// Reading the output

/** Markup without the whitespace between tags, and `<x></x>` written `<x/>`, "..." quotes. */
function compact(markup: string): string {
  return markup
    .replace(/>\s+</g, "><")
    .replace(/<([\w:]+)([^<>]*?)><\/\1>/g, "<$1$2/>")
    .replace(/='([^']*)'/g, '="$1"');
}

function passtInterfaceOf(domain: Uint8Array, name = "default"): string[] {
  return query(domain, `/domain/devices/interface[alias/@name='ua-${name}']`).map((m) => compact(m.value));
}

function memoryBackingOf(domain: Uint8Array): string | undefined {
  const found = query(domain, "/domain/memoryBacking")[0];
  return found && compact(found.value);
}

/** The document with the regions the plugin may change taken out (their lines too). */
function outsideEditedRegions(domain: Uint8Array, regions: readonly string[]): string {
  const ops: PatchOp[] = regions.map((path) => ({ op: "remove", path }));
  return text(patch(domain, ops) as Uint8Array);
}

async function runPlugin(plugin: Plugin, domainXml: Uint8Array, vmi: Vmi, env: HookEnv = {}): Promise<Uint8Array> {
  return plugin.onDefineDomain!({ domainXml, vmi, vmiJson: utf8.encode(JSON.stringify(vmi)), env });
}

// ---------------------------------------------------------------------------------------------
// The table

interface Row {
  readonly name: string;
  readonly vmi?: VmiShape;
  readonly env?: HookEnv;
  /** Default: KubeVirt's domain.xml. */
  readonly domain?: Uint8Array;
  /** The passt interface expected (compact form), or the refusal expected. */
  readonly interface?: string;
  readonly refusal?: RegExp;
  /** The <memoryBacking> expected afterwards (compact form); default: memfd + shared added. */
  readonly memoryBacking?: string;
  /** Extra checks on the output. */
  readonly also?: (output: Uint8Array, input: Uint8Array) => void;
  /** Selectors of what may change, beyond the passt interface and an added <memoryBacking>. */
  readonly regions?: readonly string[];
  /** The alias name of the passt interface (default "default"). */
  readonly ifaceName?: string;
}

const ADDED_MEMORY_BACKING = `<memoryBacking><source type="memfd"/><access mode="shared"/></memoryBacking>`;

const iface = (inner: string, type = "vhostuser") => `<interface type="${type}">${inner}</interface>`;
const defaults = (options: { before?: string; source?: string; model?: string; mac?: string; alias?: string; acpi?: string; forwards?: string } = {}) =>
  iface(
    (options.before ?? "") +
      `<source dev="${options.source ?? "eth0"}"/>` +
      `<model type="${options.model ?? "virtio-non-transitional"}"/>` +
      (options.mac ?? "") +
      `<alias name="ua-${options.alias ?? "default"}"/>` +
      (options.acpi ?? "") +
      PASST_BACKEND +
      (options.forwards ?? FORWARD_ALL),
  );

/** KubeVirt's domain without its ua-default interface. */
const domainWithoutPodInterface = () => patch(kubevirtDomain, [{ op: "remove", path: "/domain/devices/interface[alias/@name='ua-default']" }]) as Uint8Array;

const rows: readonly Row[] = [
  // -- the interface
  {
    name: "pod network interface bound to passt: the ua-default interface is replaced in place by a vhostuser interface with the passt backend",
    interface: defaults(),
    also(output) {
      // Same place among the devices: still the first child of <devices>.
      assert.equal(compact(query(output, "/domain/devices/*[1]")[0].value), defaults());
      assert.equal(query(output, "/domain/devices/interface").length, 1, "the ethernet interface is gone, not kept beside");
      // In virt-launcher's own style: two-space indentation, explicit end tags, double quotes.
      const [found] = query(output, "/domain/devices/interface");
      assert.equal(
        found.value,
        [
          `<interface type="vhostuser">`,
          `      <source dev="eth0"></source>`,
          `      <model type="virtio-non-transitional"></model>`,
          `      <alias name="ua-default"></alias>`,
          `      <backend type="passt" logFile="/var/run/kubevirt/passt.log"></backend>`,
          `      <portForward proto="tcp"></portForward>`,
          `      <portForward proto="udp"></portForward>`,
          `    </interface>`,
        ].join("\n"),
      );
    },
  },
  {
    name: "no interface aliased ua-<name> in the domain: the passt interface is appended to <devices>",
    domain: domainWithoutPodInterface(),
    interface: defaults(),
    also(output) {
      const devices = query(output, "/domain/devices")[0].value;
      assert.ok(compact(devices).endsWith(`${defaults()}</devices>`), "last child of <devices>");
    },
  },
  {
    name: "interfaces of other networks are left alone (only the pod network's interface is ours)",
    vmi: {
      interfaces: [
        { name: "default", binding: { name: "passt" } },
        { name: "secondary", bridge: {} },
      ],
      networks: [
        { name: "default", pod: {} },
        { name: "secondary", multus: { networkName: "sec" } },
      ],
    },
    domain: patch(kubevirtDomain, [
      { op: "add", path: "/domain/devices/interface[alias/@name='ua-default']", pos: "after", xml: `<interface type="ethernet"><target dev="tap1" managed="no"/><model type="virtio-non-transitional"/><alias name="ua-secondary"/></interface>` },
    ]) as Uint8Array,
    interface: defaults(),
    also(output) {
      assert.deepEqual(passtInterfaceOf(output, "secondary"), [`<interface type="ethernet"><target dev="tap1" managed="no"/><model type="virtio-non-transitional"/><alias name="ua-secondary"/></interface>`]);
    },
  },
  {
    name: "two interfaces aliased ua-default: only the first is replaced (KubeVirt's lookup by alias takes the first)",
    domain: patch(kubevirtDomain, [
      { op: "add", path: "/domain/devices/interface[alias/@name='ua-default']", pos: "after", xml: `<interface type="ethernet"><alias name="ua-default"/></interface>` },
    ]) as Uint8Array,
    interface: defaults(),
    also(output) {
      const aliased = query(output, "/domain/devices/interface[alias/@name='ua-default']").map((m) => compact(m.value));
      assert.deepEqual(aliased, [defaults(), `<interface type="ethernet"><alias name="ua-default"/></interface>`]);
    },
  },
  {
    name: "the pod network is found by its pod source, wherever it is in spec.networks",
    vmi: {
      interfaces: [{ name: "sec", bridge: {} }, { name: "podnet", binding: { name: "passt" } }],
      networks: [{ name: "sec", multus: { networkName: "sec" } }, { name: "podnet", pod: {} }],
      statusInterfaces: [{ name: "sec", podInterfaceName: "pod1a2b3c4d5e6" }, { name: "podnet", podInterfaceName: "eth0" }],
    },
    ifaceName: "podnet",
    interface: defaults({ alias: "podnet" }),
  },
  {
    name: "source dev is the pod interface name from status.interfaces (e.g. ovn-udn1 on a user-defined network)",
    vmi: { statusInterfaces: [{ name: "default", podInterfaceName: "ovn-udn1" }] },
    interface: defaults({ source: "ovn-udn1" }),
  },
  {
    name: "PCI address: <address type=pci> from pciAddress",
    vmi: { iface: { pciAddress: "0000:02:02.0" } },
    interface: defaults({ before: `<address type="pci" domain="0x0000" bus="0x02" slot="0x02" function="0x0"/>` }),
  },
  {
    name: "PCI address in upper case hex keeps its digits",
    vmi: { iface: { pciAddress: "0000:0A:1F.7" } },
    interface: defaults({ before: `<address type="pci" domain="0x0000" bus="0x0A" slot="0x1F" function="0x7"/>` }),
  },
  {
    name: "MAC address: <mac> from macAddress",
    vmi: { iface: { macAddress: "02:02:02:02:02:02" } },
    interface: defaults({ mac: `<mac address="02:02:02:02:02:02"/>` }),
  },
  {
    name: "ACPI index above 0: <acpi index>",
    vmi: { iface: { acpiIndex: 2 } },
    interface: defaults({ acpi: `<acpi index="2"/>` }),
  },
  {
    name: "ACPI index 0: no <acpi>",
    vmi: { iface: { acpiIndex: 0 } },
    interface: defaults(),
  },
  {
    name: "every option at once: address, source, model, mac, alias, acpi, backend, portForward in KubeVirt's order",
    vmi: { iface: { pciAddress: "0000:03:00.0", macAddress: "de:ad:00:00:be:af", acpiIndex: 5, model: "e1000e", ports: [{ port: 22 }] } },
    interface: defaults({
      before: `<address type="pci" domain="0x0000" bus="0x03" slot="0x00" function="0x0"/>`,
      model: "e1000e",
      mac: `<mac address="de:ad:00:00:be:af"/>`,
      acpi: `<acpi index="5"/>`,
      forwards: `<portForward proto="tcp"><range start="22"/></portForward>`,
    }),
  },
  // -- the model
  {
    name: "no model: virtio-non-transitional",
    interface: defaults({ model: "virtio-non-transitional" }),
  },
  {
    name: "model virtio: virtio-non-transitional",
    vmi: { iface: { model: "virtio" } },
    interface: defaults({ model: "virtio-non-transitional" }),
  },
  {
    name: "virtio with spec.domain.devices.useVirtioTransitional: virtio-transitional",
    vmi: { useVirtioTransitional: true },
    interface: defaults({ model: "virtio-transitional" }),
  },
  {
    name: "non virtio model (e1000) is kept as it is, even with useVirtioTransitional",
    vmi: { iface: { model: "e1000" }, useVirtioTransitional: true },
    interface: defaults({ model: "e1000" }),
  },
  // -- port forwarding
  {
    name: "no ports: forward every tcp and every udp port",
    interface: defaults({ forwards: FORWARD_ALL }),
  },
  {
    name: "tcp ports (should forward tcp ports only)",
    vmi: { iface: { ports: [{ protocol: "TCP", port: 1 }, { protocol: "TCP", port: 4 }] } },
    interface: defaults({ forwards: `<portForward proto="tcp"><range start="1"/><range start="4"/></portForward>` }),
  },
  {
    name: "udp ports (should forward udp ports only)",
    vmi: { iface: { ports: [{ protocol: "UDP", port: 2 }, { protocol: "UDP", port: 3 }] } },
    interface: defaults({ forwards: `<portForward proto="udp"><range start="2"/><range start="3"/></portForward>` }),
  },
  {
    name: "both tcp and udp ports: no protocol means tcp, protocols in any case",
    vmi: { iface: { ports: [{ port: 1 }, { protocol: "UdP", port: 2 }, { protocol: "UDP", port: 3 }, { protocol: "tcp", port: 4 }] } },
    interface: defaults({ forwards: `<portForward proto="tcp"><range start="1"/><range start="4"/></portForward><portForward proto="udp"><range start="2"/><range start="3"/></portForward>` }),
  },
  {
    name: "a protocol passt does not support (SCTP) is left out; with nothing else, every port is forwarded",
    vmi: { iface: { ports: [{ protocol: "SCTP", port: 9 }] } },
    interface: defaults({ forwards: FORWARD_ALL }),
  },
  {
    name: "istio proxy injection (sidecar.istio.io/inject=true): Istio's ports are excluded from tcp forwarding",
    vmi: { annotations: { "sidecar.istio.io/inject": "true" } },
    interface: defaults({ forwards: `<portForward proto="tcp">${ISTIO_EXCLUDES}</portForward>` }),
  },
  {
    name: "istio annotation in any case (TRUE) counts as injected",
    vmi: { annotations: { "sidecar.istio.io/inject": "TRUE" } },
    interface: defaults({ forwards: `<portForward proto="tcp">${ISTIO_EXCLUDES}</portForward>` }),
  },
  {
    name: "istio annotation false: no excludes, every port forwarded",
    vmi: { annotations: { "sidecar.istio.io/inject": "false" } },
    interface: defaults({ forwards: FORWARD_ALL }),
  },
  {
    name: "istio injection with ports: the excludes first, then the interface's tcp ports; udp ports apart",
    vmi: { annotations: { "sidecar.istio.io/inject": "true" }, iface: { ports: [{ protocol: "TCP", port: 8080 }, { protocol: "UDP", port: 53 }] } },
    interface: defaults({ forwards: `<portForward proto="tcp">${ISTIO_EXCLUDES}<range start="8080"/></portForward><portForward proto="udp"><range start="53"/></portForward>` }),
  },
  // -- memory backing
  {
    name: "no <memoryBacking>: memfd source and shared access are added, after <memory>",
    interface: defaults(),
    memoryBacking: ADDED_MEMORY_BACKING,
    also(output) {
      assert.match(text(output), /<memory unit="b">8388608<\/memory>\n  <memoryBacking>\n    <source type="memfd"><\/source>\n    <access mode="shared"><\/access>\n  <\/memoryBacking>\n  <os>/);
    },
  },
  {
    name: "<memoryBacking> with shared access (hugepages): left as it is",
    domain: patch(kubevirtDomain, [{ op: "add", path: "/domain/memory", pos: "after", xml: `<memoryBacking><hugepages><page size="2048" unit="KiB"/></hugepages><access mode="shared"/></memoryBacking>` }]) as Uint8Array,
    interface: defaults(),
    memoryBacking: `<memoryBacking><hugepages><page size="2048" unit="KiB"/></hugepages><access mode="shared"/></memoryBacking>`,
  },
  {
    name: "<memoryBacking> without an access mode: left as it is",
    domain: patch(kubevirtDomain, [{ op: "add", path: "/domain/memory", pos: "after", xml: `<memoryBacking><hugepages/></memoryBacking>` }]) as Uint8Array,
    interface: defaults(),
    memoryBacking: `<memoryBacking><hugepages/></memoryBacking>`,
  },
  {
    name: "<memoryBacking> with access mode private: refused, naming the mode",
    domain: patch(kubevirtDomain, [{ op: "add", path: "/domain/memory", pos: "after", xml: `<memoryBacking><access mode="private"/></memoryBacking>` }]) as Uint8Array,
    refusal: /memoryBacking access mode is "private"; the passt binding \(vhost-user\) needs "shared"/,
  },
  // -- the binding name
  {
    name: "NETWORK_BINDING_PLUGIN_NAME names the binding: an interface bound to that name is ours",
    env: { NETWORK_BINDING_PLUGIN_NAME: "passt-ovn" },
    vmi: { iface: { binding: { name: "passt-ovn" } } },
    interface: defaults(),
  },
  {
    name: "NETWORK_BINDING_PLUGIN_NAME set: an interface bound to plain passt is refused",
    env: { NETWORK_BINDING_PLUGIN_NAME: "passt-ovn" },
    refusal: /^interface "default" is not set with the "passt-ovn" network binding plugin \(its binding is "passt"\)$/,
  },
  // -- refusals (KubeVirt's configurator errors, naming what is wrong)
  {
    name: "no pod network: refused",
    vmi: { networks: [{ name: "default", multus: { networkName: "default/net" } }] },
    refusal: /^no pod network in spec\.networks/,
  },
  {
    name: "no interface for the pod network: refused, naming the network",
    vmi: { interfaces: [{ name: "not-default", binding: { name: "passt" } }] },
    refusal: /^pod network "default" has no interface of the same name in spec\.domain\.devices\.interfaces$/,
  },
  {
    name: "interface with a binding method (masquerade) instead of the plugin: refused",
    vmi: { interfaces: [{ name: "default", masquerade: {} }] },
    refusal: /^interface "default" is not set with the "passt" network binding plugin \(it has no binding\)$/,
  },
  {
    name: "interface bound to another plugin: refused, naming both",
    vmi: { iface: { binding: { name: "no-passt" } } },
    refusal: /^interface "default" is not set with the "passt" network binding plugin \(its binding is "no-passt"\)$/,
  },
  {
    name: "no status.interfaces entry for the pod network: refused",
    vmi: { statusInterfaces: [{ name: "other", podInterfaceName: "eth0" }] },
    refusal: /^interface "default" has no entry in status\.interfaces/,
  },
  {
    name: "status entry without podInterfaceName: refused",
    vmi: { statusInterfaces: [{ name: "default", mac: "02:7e:2c:00:00:01" }] },
    refusal: /^interface "default" has no podInterfaceName in status\.interfaces$/,
  },
  {
    name: "invalid PCI address: refused, naming the interface and the address",
    vmi: { iface: { pciAddress: "invalid-pci-address" } },
    refusal: /^interface "default": invalid pciAddress "invalid-pci-address" \(expected DDDD:BB:SS\.F/,
  },
  {
    name: "PCI function above 7: refused",
    vmi: { iface: { pciAddress: "0000:00:02.8" } },
    refusal: /invalid pciAddress "0000:00:02\.8"/,
  },
  // -- other documents
  {
    name: "libvirt's passt domain (single quotes, self-closing tags, no alias): appended in the document's own style, memoryBacking after <currentMemory>",
    domain: libvirtPasstDomain,
    interface: defaults(),
    also(output) {
      const added = query(output, "/domain/devices/interface[alias/@name='ua-default']")[0].value;
      assert.match(added, /^<interface type='vhostuser'>\n      <source dev='eth0'\/>\n/, "single quotes and <x/> as the document writes them");
      assert.match(text(output), /<currentMemory unit='KiB'>219136<\/currentMemory>\n  <memoryBacking>\n    <source type='memfd'\/>\n/);
      assert.equal(query(output, "/domain/devices/interface[@type='user']").length, 1, "libvirt's own user interface is not ours");
    },
  },
  {
    name: "libvirt's hugepages domain with shared access: memoryBacking untouched, interface appended",
    domain: libvirtHugepagesDomain,
    interface: defaults(),
    memoryBacking: `<memoryBacking><hugepages><page size="2048" unit="KiB"/></hugepages><access mode="shared"/></memoryBacking>`,
  },
  {
    name: "a domain whose <devices> has no children yet gets the interface inside it",
    domain: utf8.encode(`<domain type="kvm">\n  <name>x</name>\n  <memory>1024</memory>\n  <devices/>\n</domain>\n`),
    interface: defaults(),
    also(output) {
      assert.equal(text(output).includes("<devices>"), true);
    },
    regions: ["/domain/devices"],
  },
  {
    name: "a domain without <devices> gets one, holding the interface",
    domain: utf8.encode(`<domain type="kvm">\n  <name>x</name>\n  <memory>1024</memory>\n</domain>\n`),
    interface: defaults(),
    regions: ["/domain/devices"],
  },
];

// ---------------------------------------------------------------------------------------------

let plugin: Plugin;

before(async () => {
  plugin = await createPasstPlugin({ get: () => undefined });
});

describe("passt plugin (KubeVirt's network-passt-binding, lossless)", () => {
  test("Info: OnDefineDomain only, as KubeVirt's passt sidecar subscribes", () => {
    assert.equal(plugin.name, "passt");
    assert.deepEqual(plugin.hookPoints, ["OnDefineDomain"]);
    assert.equal(plugin.preCloudInitIso, undefined);
  });

  for (const row of rows) {
    test(row.name, async () => {
      const input = row.domain ?? kubevirtDomain;
      const vmi = passtVmi(row.vmi);
      if (row.refusal) {
        await assert.rejects(runPlugin(plugin, input, vmi, row.env), (error: unknown) => {
          assert.ok(error instanceof PluginError, `a PluginError, got ${String(error)}`);
          assert.match(error.message, row.refusal!);
          return true;
        });
        return;
      }
      const output = await runPlugin(plugin, input, vmi, row.env);
      const name = row.ifaceName ?? "default";
      assert.equal(passtInterfaceOf(output, name)[0], row.interface!, "the passt interface");
      const aliasedBefore = passtInterfaceOf(input, name).length;
      assert.equal(passtInterfaceOf(output, name).length, Math.max(aliasedBefore, 1), "replaced in place, or added once");
      const inputHadMemoryBacking = query(input, "/domain/memoryBacking").length > 0;
      assert.equal(memoryBackingOf(output), row.memoryBacking ?? (inputHadMemoryBacking ? memoryBackingOf(input) : ADDED_MEMORY_BACKING), "memoryBacking");
      if (inputHadMemoryBacking) assert.equal(query(output, "/domain/memoryBacking")[0].value, query(input, "/domain/memoryBacking")[0].value, "an existing memoryBacking keeps its bytes");
      row.also?.(output, input);

      // Idempotent: virt-launcher may call twice.
      const twice = await runPlugin(plugin, output, vmi, row.env);
      assert.equal(text(twice), text(output), "applied twice == applied once");

      // Lossless: outside the passt interface and an added memoryBacking, the bytes are the input's.
      const regions = [`/domain/devices/interface[alias/@name='ua-${name}']`, ...(inputHadMemoryBacking ? [] : ["/domain/memoryBacking"]), ...(row.regions ?? [])];
      assert.equal(outsideEditedRegions(output, regions), outsideEditedRegions(input, regions), "everything else byte for byte");
    });
  }

  test("libvirt schema: every successful row's output validates on KubeVirt's domain made schema-valid (and on libvirt's passt domain)", async () => {
    const schemaValid = schemaValidKubevirtDomain(kubevirtDomain);
    assert.ok(validateDomain(schemaValid).valid, "the input validates");
    const failures: string[] = [];
    for (const row of rows) {
      if (row.refusal) continue;
      // The row's own edits to KubeVirt's domain, replayed on the schema-valid one.
      const input = row.domain === undefined ? schemaValid : row.domain === libvirtPasstDomain || row.domain === libvirtHugepagesDomain ? row.domain : null;
      if (input === null) continue;
      if (!validateDomain(input).valid) continue; // never demand more than the input had
      const verdict = validatePasstDomain(await runPlugin(plugin, input, passtVmi(row.vmi), row.env));
      if (!verdict.valid) failures.push(`${row.name}: ${verdict.messages}`);
    }
    assert.deepEqual(failures, []);
  });

  test("libvirt schema: the rows that edit KubeVirt's domain first validate too", async () => {
    const schemaValid = schemaValidKubevirtDomain(kubevirtDomain);
    const memoryBackings = [
      `<memoryBacking><hugepages><page size="2048" unit="KiB"/></hugepages><access mode="shared"/></memoryBacking>`,
      `<memoryBacking><hugepages/></memoryBacking>`,
    ];
    for (const memoryBacking of memoryBackings) {
      const input = patch(schemaValid, [{ op: "add", path: "/domain/memory", pos: "after", xml: memoryBacking }]) as Uint8Array;
      assert.ok(validateDomain(input).valid);
      const verdict = validatePasstDomain(await runPlugin(plugin, input, passtVmi()));
      assert.ok(verdict.valid, verdict.messages);
    }
    const withoutPodInterface = patch(schemaValid, [{ op: "remove", path: "/domain/devices/interface[alias/@name='ua-default']" }]) as Uint8Array;
    const verdict = validatePasstDomain(await runPlugin(plugin, withoutPodInterface, passtVmi()));
    assert.ok(verdict.valid, verdict.messages);
  });

  test("every KubeVirt corpus domain: replaced in place, idempotent, lossless, schema-valid wherever the input was", async () => {
    for (const file of ["domain.xml", "domain_x86_64.xml", "domain_x86_64_root.xml", "domain_arm64.xml", "domain_s390x.xml"]) {
      const input = readFileSync(path.join(corpus, "kubevirt", file));
      const vmi = passtVmi({ iface: { macAddress: "02:7e:2c:00:00:01", ports: [{ port: 80 }] } });
      const output = await runPlugin(plugin, input, vmi);
      assert.equal(passtInterfaceOf(output).length, 1, file);
      assert.equal(text(await runPlugin(plugin, output, vmi)), text(output), `${file}: twice == once`);
      const regions = ["/domain/devices/interface[alias/@name='ua-default']", "/domain/memoryBacking"];
      assert.equal(outsideEditedRegions(output, regions), outsideEditedRegions(input, regions), `${file}: lossless`);
      const schemaValid = schemaValidKubevirtDomain(input);
      if (validateDomain(schemaValid).valid) {
        const verdict = validatePasstDomain(await runPlugin(plugin, schemaValid, vmi));
        assert.ok(verdict.valid, `${file}: ${verdict.messages}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Through the real command line and the real sidecar

describe("passt through domsplice hook and serve", () => {
  let sidecar: SidecarProcess | undefined;

  before(async () => {
    await ensureNodeBundle();
  });

  after(async () => {
    await sidecar?.stop();
  });

  test("bin/domsplice hook --plugin passt: prints the patched domain; a refusal is one line, exit 2", () => {
    const vmi = JSON.stringify(passtVmi({ iface: { ports: [{ port: 80 }] } }));
    const domainFile = path.join(corpus, "kubevirt", "domain.xml");
    const run = spawnSync(process.execPath, [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", "passt", "--vmi", vmi, "--domain", domainFile], { encoding: "buffer", timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr.toString());
    assert.deepEqual(passtInterfaceOf(run.stdout), [defaults({ forwards: `<portForward proto="tcp"><range start="80"/></portForward>` })]);
    assert.equal(memoryBackingOf(run.stdout), ADDED_MEMORY_BACKING);

    const refused = spawnSync(process.execPath, [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", "passt", "--vmi", vmi, "--domain", domainFile], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, NETWORK_BINDING_PLUGIN_NAME: "other" },
    });
    assert.equal(refused.status, 2);
    assert.equal(refused.stdout, "");
    assert.match(refused.stderr, /^[^\n]*plugin passt: interface "default" is not set with the "other" network binding plugin \(its binding is "passt"\)\n$/);
  });

  test("domsplice serve --plugin passt: virt-launcher's hook manager gets the passt domain over OnDefineDomain", async () => {
    sidecar = await startSidecar("node", ["--plugin", "passt", "--name", "network-passt-binding"]);
    const manager = new HookManager(path.dirname(sidecar.socket));
    const [found] = await manager.collect(1, 10_000);
    // startSidecar always runs identity first (it also lists PreCloudInitIso); passt adds OnDefineDomain.
    assert.ok(found.info.hookPoints.some((point) => point.name === "OnDefineDomain"));
    const vmi = passtVmi({ annotations: { "sidecar.istio.io/inject": "true" } });
    const output = await manager.onDefineDomain(kubevirtDomain, utf8.encode(JSON.stringify(vmi)));
    assert.deepEqual(passtInterfaceOf(output), [defaults({ forwards: `<portForward proto="tcp">${ISTIO_EXCLUDES}</portForward>` })]);
    const again = await manager.onDefineDomain(output, utf8.encode(JSON.stringify(vmi)));
    assert.equal(text(again), text(output), "a second call changes nothing");
    await manager.shutdown();
    assert.deepEqual(await sidecar.exited, { code: 0, signal: null });
  });
});
