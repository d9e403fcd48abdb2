// The slirp network binding plugin, table-driven like KubeVirt's own (removed)
// cmd/sidecars/network-slirp-binding/domain tests: one row per behaviour, on KubeVirt-shaped
// VMIs and virt-launcher's real domain XML (plus libvirt's own qemu:commandline domain).
// Every row that succeeds is also checked for idempotency (twice == once), losslessness (the
// document outside <qemu:commandline> and the root's xmlns:qemu is byte-identical to the input)
// and libvirt's schema (the output validates on KubeVirt's domain made schema-valid). Then one
// call through `bin/domsplice hook`.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { patch, query, type PatchOp } from "../src/index.ts";
import { createSlirpPlugin, QEMU_NAMESPACE, searchDomains } from "../src/plugins/slirp.ts";
import { pluginOptions } from "../src/plugins/options.ts";
import { PluginError, type HookEnv, type Plugin, type Vmi } from "../src/plugins/types.ts";
import { corpus } from "./corpus-files.ts";
import { ensureNodeBundle, repoRoot } from "./hook-manager.ts";
import { schemaValidKubevirtDomain, validateDomain } from "./libvirt-schema.ts";

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const kubevirtDomain = readFileSync(path.join(corpus, "kubevirt", "domain.xml"));
const libvirtQemuNsDomain = readFileSync(path.join(corpus, "libvirt-domains", "qemuxmlconfdata", "qemu-ns.xml"));
/** KubeVirt's domain without the qemu namespace declaration (virt-launcher writes it only when it uses it). */
const kubevirtDomainWithoutQemuNamespace = patch(kubevirtDomain, [{ op: "remove", path: "/domain/@xmlns:qemu" }]) as Uint8Array;

const scratch = mkdtempSync(path.join(tmpdir(), "domsplice-slirp-"));
const POD_RESOLV_CONF = "search mynamespace.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n";
const POD_SEARCH = "dnssearch=mynamespace.svc.cluster.local,dnssearch=svc.cluster.local,dnssearch=cluster.local";

function resolvConf(content: string): string {
  const file = path.join(scratch, `resolv-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, content);
  return file;
}

async function slirpPlugin(resolv = POD_RESOLV_CONF): Promise<Plugin> {
  return createSlirpPlugin(pluginOptions([`resolv-conf=${resolvConf(resolv)}`], {}));
}

// ---------------------------------------------------------------------------------------------
// The VMI: as virt-launcher sends it for a VM on the pod network with the slirp binding

interface VmiShape {
  readonly iface?: Record<string, unknown>;
  readonly interfaces?: readonly Record<string, unknown>[];
  readonly networks?: readonly Record<string, unknown>[];
}

function slirpVmi(shape: VmiShape = {}): Vmi {
  const iface = { name: "default", binding: { name: "slirp" }, ...shape.iface };
  return {
    kind: "VirtualMachineInstance",
    apiVersion: "kubevirt.io/v1",
    metadata: { name: "testvmi", namespace: "mynamespace", uid: "e4686d2c-6e8d-4335-b8fd-81bee22f4814" },
    spec: {
      domain: { devices: { interfaces: shape.interfaces ?? [iface] } },
      networks: shape.networks ?? [{ name: "default", pod: {} }],
    },
    status: { phase: "Scheduled", interfaces: [{ name: "default", podInterfaceName: "eth0", infoSource: "domain" }] },
  } as unknown as Vmi;
}

const args = (domain: Uint8Array) => query(domain, "/domain/qemu:commandline/qemu:arg/@value").map((match) => match.value);
const device = (fields: Record<string, string>) => JSON.stringify(fields);
const defaultArgs = (netdev = `user,id=default,net=10.0.2.0/24,${POD_SEARCH}`, dev = device({ driver: "e1000", netdev: "default", id: "default" })) => ["-netdev", netdev, "-device", dev];

/** The document with the regions the plugin may change taken out (their lines too). */
function outsideEditedRegions(domain: Uint8Array): string {
  const ops: PatchOp[] = [
    { op: "remove", path: "/domain/qemu:commandline" },
    { op: "remove", path: "/domain/@xmlns:qemu" },
  ];
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
  readonly resolvConf?: string;
  /** Default: KubeVirt's domain.xml. */
  readonly domain?: Uint8Array;
  /** Every qemu:arg value expected afterwards, in order; or the refusal expected. */
  readonly args?: readonly string[];
  readonly refusal?: RegExp;
  readonly also?: (output: Uint8Array, input: Uint8Array) => void;
}

/** KubeVirt's domain with the slirp arguments of `values` already on its command line. */
const withArgs = (values: readonly string[]) => {
  const argsXml = values.map((value) => `<qemu:arg value="${value.replaceAll('"', "&quot;")}"/>`).join("");
  return patch(kubevirtDomain, [{ op: "add", path: "/domain", pos: "append", xml: `<qemu:commandline>${argsXml}</qemu:commandline>` }]) as Uint8Array;
};

const rows: readonly Row[] = [
  {
    name: "pod network interface bound to slirp: -netdev user (default 10.0.2.0/24, the pod's search domains) and an e1000 -device, in a new qemu:commandline last in <domain>",
    args: defaultArgs(),
    also(output) {
      assert.ok(text(output).trimEnd().endsWith("</qemu:commandline>\n</domain>"), "last child of <domain>");
      // virt-launcher's style: explicit end tags, double quotes, two-space indentation.
      assert.match(text(output), /\n  <qemu:commandline>\n    <qemu:arg value="-netdev"><\/qemu:arg>\n/);
    },
  },
  {
    name: "vmNetworkCIDR of the pod network becomes net=",
    vmi: { networks: [{ name: "default", pod: { vmNetworkCIDR: "192.168.100.0/24" } }] },
    args: defaultArgs(`user,id=default,net=192.168.100.0/24,${POD_SEARCH}`),
  },
  {
    name: "ports become hostfwd per distinct protocol and port (no protocol = TCP, any case; a repeat forwarded once)",
    vmi: { iface: { ports: [{ name: "http", protocol: "TCP", port: 80 }, { port: 8080 }, { port: 80, protocol: "tcp" }, { port: 53, protocol: "UDP" }] } },
    args: defaultArgs(`user,id=default,net=10.0.2.0/24,${POD_SEARCH},hostfwd=tcp::80-:80,hostfwd=tcp::8080-:8080,hostfwd=udp::53-:53`),
  },
  {
    name: "model virtio is not supported by slirp: e1000 instead",
    vmi: { iface: { model: "virtio" } },
    args: defaultArgs(),
  },
  {
    name: "model e1000e falls back to e1000 too",
    vmi: { iface: { model: "e1000e" } },
    args: defaultArgs(),
  },
  {
    name: "model rtl8139 is kept",
    vmi: { iface: { model: "rtl8139" } },
    args: defaultArgs(undefined, device({ driver: "rtl8139", netdev: "default", id: "default" })),
  },
  {
    name: "macAddress becomes the device's mac",
    vmi: { iface: { macAddress: "02:02:02:02:02:02" } },
    args: defaultArgs(undefined, device({ driver: "e1000", netdev: "default", id: "default", mac: "02:02:02:02:02:02" })),
  },
  {
    name: "search domains of every search line, lower-cased, in order",
    resolvConf: "search LoCaL\nnameserver 8.8.8.8\nsearch svc.cluster.local\texample.com\n",
    args: defaultArgs("user,id=default,net=10.0.2.0/24,dnssearch=local,dnssearch=svc.cluster.local,dnssearch=example.com"),
  },
  {
    name: "resolv.conf without a search line: cluster.local, as KubeVirt",
    resolvConf: "nameserver 8.8.8.8\n",
    args: defaultArgs("user,id=default,net=10.0.2.0/24,dnssearch=cluster.local"),
  },
  {
    name: "domain without xmlns:qemu: declared once, on <domain>",
    domain: kubevirtDomainWithoutQemuNamespace,
    args: defaultArgs(),
    also(output) {
      assert.equal(query(output, "/domain/@xmlns:qemu")[0]?.value, QEMU_NAMESPACE);
      assert.equal(text(output).split("xmlns:qemu=").length - 1, 1, "one declaration only");
      assert.ok(text(output).startsWith(`<domain type="qemu" xmlns:qemu="${QEMU_NAMESPACE}">`));
    },
  },
  {
    name: "existing qemu:commandline (libvirt's qemu-ns domain): arguments appended after the others, env and the other qemu elements untouched",
    domain: libvirtQemuNsDomain,
    args: ["-unknown", "parameter", ...defaultArgs()],
    also(output, input) {
      const envs = (domain: Uint8Array) => query(domain, "/domain/qemu:commandline/qemu:env").map((match) => match.value);
      assert.deepEqual(envs(output), envs(input));
      for (const other of ["qemu:capabilities", "qemu:override", "qemu:deprecation"]) {
        assert.deepEqual(query(output, `/domain/${other}`).map((m) => m.value), query(input, `/domain/${other}`).map((m) => m.value), other);
      }
    },
  },
  {
    name: "arguments already there: nothing added, the document is returned byte for byte",
    domain: withArgs(defaultArgs()),
    args: defaultArgs(),
    also(output, input) {
      assert.equal(text(output), text(input));
    },
  },
  {
    name: "arguments of this interface out of date (ports changed): updated in place, not added a second time",
    domain: withArgs(["-M", "q35", ...defaultArgs(`user,id=default,net=10.0.2.0/24,${POD_SEARCH},hostfwd=tcp::22-:22`), "-S"]),
    vmi: { iface: { ports: [{ port: 80 }] } },
    args: ["-M", "q35", ...defaultArgs(`user,id=default,net=10.0.2.0/24,${POD_SEARCH},hostfwd=tcp::80-:80`), "-S"],
  },
  {
    name: "only the -device of this interface there (legacy option form): updated in place, the -netdev appended",
    domain: withArgs(["-device", "e1000,netdev=default,id=default"]),
    args: ["-device", device({ driver: "e1000", netdev: "default", id: "default" }), "-netdev", `user,id=default,net=10.0.2.0/24,${POD_SEARCH}`],
  },
  {
    name: "every interface bound to slirp gets its pair; interfaces of other bindings are left alone",
    vmi: {
      interfaces: [
        { name: "default", binding: { name: "slirp" } },
        { name: "blue", bridge: {} },
        { name: "red", binding: { name: "slirp" }, model: "rtl8139" },
      ],
      networks: [
        { name: "default", pod: {} },
        { name: "blue", multus: { networkName: "blue" } },
        { name: "red", multus: { networkName: "red" } },
      ],
    },
    args: [...defaultArgs(), "-netdev", `user,id=red,net=10.0.2.0/24,${POD_SEARCH}`, "-device", device({ driver: "rtl8139", netdev: "red", id: "red" })],
  },
  {
    name: "binding name from NETWORK_BINDING_PLUGIN_NAME",
    vmi: { iface: { binding: { name: "usernet" } } },
    env: { NETWORK_BINDING_PLUGIN_NAME: "usernet" },
    args: defaultArgs(),
  },
  // -- refusals
  {
    name: "refused: no interface bound to slirp",
    vmi: { iface: { binding: { name: "passt" } } },
    refusal: /^no interface in spec\.domain\.devices\.interfaces is set with the "slirp" network binding plugin$/,
  },
  {
    name: "refused: interface without a network of the same name",
    vmi: { networks: [{ name: "other", pod: {} }] },
    refusal: /^interface "default" has no network of the same name in spec\.networks$/,
  },
  {
    name: "refused: invalid vmNetworkCIDR",
    vmi: { networks: [{ name: "default", pod: { vmNetworkCIDR: "592.468.300.0/24" } }] },
    refusal: /^interface "default": invalid vmNetworkCIDR "592\.468\.300\.0\/24" in network "default"/,
  },
  {
    name: "refused: port 0",
    vmi: { iface: { ports: [{ port: 0 }] } },
    refusal: /^interface "default": invalid port 0$/,
  },
  {
    name: "refused: port -1",
    vmi: { iface: { ports: [{ port: -1 }] } },
    refusal: /^interface "default": invalid port -1$/,
  },
  {
    name: "refused: a protocol slirp cannot forward (SCTP)",
    vmi: { iface: { ports: [{ port: 9, protocol: "SCTP" }] } },
    refusal: /^interface "default": port 9 has protocol "SCTP"; slirp forwards only TCP and UDP$/,
  },
  {
    name: "refused: the qemu prefix bound to another namespace on <domain>",
    domain: patch(kubevirtDomain, [{ op: "set", path: "/domain/@xmlns:qemu", value: "urn:elsewhere" }]) as Uint8Array,
    refusal: /^the domain binds the prefix qemu to "urn:elsewhere", not libvirt's QEMU namespace/,
  },
];

after(() => rmSync(scratch, { recursive: true, force: true }));

describe("slirp: one row per behaviour (each also twice == once, lossless, schema-valid)", () => {
  for (const row of rows) {
    test(row.name, async () => {
      const plugin = await slirpPlugin(row.resolvConf);
      const input = row.domain ?? kubevirtDomain;
      const vmi = slirpVmi(row.vmi);
      if (row.refusal) {
        await assert.rejects(async () => runPlugin(plugin, input, vmi, row.env), (error: unknown) => {
          assert.ok(error instanceof PluginError, `a PluginError, got ${String(error)}`);
          assert.match(error.message, row.refusal!);
          return true;
        });
        return;
      }
      const output = await runPlugin(plugin, input, vmi, row.env);
      assert.deepEqual(args(output), row.args);
      assert.equal(query(output, "/domain/qemu:commandline").length, 1, "one qemu:commandline");
      row.also?.(output, input);
      assert.equal(text(await runPlugin(plugin, output, vmi, row.env)), text(output), "twice == once");
      assert.equal(outsideEditedRegions(output), outsideEditedRegions(input), "lossless outside qemu:commandline and xmlns:qemu");
      if (row.domain === undefined || row.domain === kubevirtDomainWithoutQemuNamespace) {
        const schemaInput = schemaValidKubevirtDomain(input);
        assert.ok(validateDomain(schemaInput).valid, "the input is schema-valid");
        const verdict = validateDomain(await runPlugin(plugin, schemaInput, vmi, row.env));
        assert.ok(verdict.valid, verdict.messages);
      } else if (validateDomain(input).valid) {
        const verdict = validateDomain(output);
        assert.ok(verdict.valid, verdict.messages);
      }
    });
  }
});

describe("slirp on every KubeVirt corpus domain", () => {
  test("arguments present once, twice == once, lossless, schema-valid wherever the input was", async () => {
    const plugin = await slirpPlugin();
    const vmi = slirpVmi({ iface: { ports: [{ port: 22 }] } });
    for (const file of readdirSync(path.join(corpus, "kubevirt")).filter((name) => name.endsWith(".xml"))) {
      const input = readFileSync(path.join(corpus, "kubevirt", file));
      const output = await runPlugin(plugin, input, vmi);
      assert.deepEqual(args(output).slice(-4), defaultArgs(`user,id=default,net=10.0.2.0/24,${POD_SEARCH},hostfwd=tcp::22-:22`), file);
      assert.equal(text(await runPlugin(plugin, output, vmi)), text(output), `${file}: twice == once`);
      assert.equal(outsideEditedRegions(output), outsideEditedRegions(input), `${file}: lossless`);
      const schemaInput = schemaValidKubevirtDomain(input);
      if (validateDomain(schemaInput).valid) {
        const verdict = validateDomain(await runPlugin(plugin, schemaInput, vmi));
        assert.ok(verdict.valid, `${file}: ${verdict.messages}`);
      }
    }
  });
});

describe("slirp: settings", () => {
  test("search domains are read as KubeVirt's dns.ParseSearchDomains does", () => {
    assert.deepEqual(searchDomains("search cluster.local svc.cluster.local example.com\nnameserver 8.8.8.8\n"), ["cluster.local", "svc.cluster.local", "example.com"]);
    assert.deepEqual(searchDomains("search cluster.local\tsvc.cluster.local    example.com\n"), ["cluster.local", "svc.cluster.local", "example.com"]);
    assert.deepEqual(searchDomains(""), ["cluster.local"]);
  });

  test("resolv-conf naming a file that cannot be read: the factory refuses, naming the option", () => {
    assert.throws(
      () => createSlirpPlugin(pluginOptions(["resolv-conf=/nonexistent/resolv.conf"], {})),
      (error: unknown) => error instanceof PluginError && /^option resolv-conf: cannot read \/nonexistent\/resolv\.conf: /.test(error.message),
    );
  });

  test("resolv-conf from the environment (DOMSPLICE_RESOLV_CONF) when no flag", async () => {
    const plugin = await createSlirpPlugin(pluginOptions([], { DOMSPLICE_RESOLV_CONF: resolvConf("search example.org\n") }));
    assert.deepEqual(args(await runPlugin(plugin, kubevirtDomain, slirpVmi())), defaultArgs("user,id=default,net=10.0.2.0/24,dnssearch=example.org"));
  });
});

describe("slirp through domsplice hook", () => {
  before(async () => {
    await ensureNodeBundle();
  });

  test("bin/domsplice hook --plugin slirp --option resolv-conf=FILE: prints the domain with the slirp arguments; a refusal is one line, exit 2", () => {
    const vmi = JSON.stringify(slirpVmi({ iface: { ports: [{ port: 22 }] } }));
    const domainFile = path.join(corpus, "kubevirt", "domain.xml");
    const cli = [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", "slirp", "--option", `resolv-conf=${resolvConf(POD_RESOLV_CONF)}`, "--vmi", vmi, "--domain", domainFile];
    const run = spawnSync(process.execPath, cli, { encoding: "buffer", timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr.toString());
    assert.deepEqual(args(run.stdout), defaultArgs(`user,id=default,net=10.0.2.0/24,${POD_SEARCH},hostfwd=tcp::22-:22`));

    const refused = spawnSync(process.execPath, cli, { encoding: "utf8", timeout: 20_000, env: { ...process.env, NETWORK_BINDING_PLUGIN_NAME: "other" } });
    assert.equal(refused.status, 2);
    assert.equal(refused.stdout, "");
    assert.match(refused.stderr, /^[^\n]*plugin slirp: no interface in spec\.domain\.devices\.interfaces is set with the "other" network binding plugin\n$/);
  });
});
