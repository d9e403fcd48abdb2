// The smbios plugin, table-driven: one row per behaviour, on KubeVirt-shaped VMIs carrying
// smbios.vm.kubevirt.io/ annotations and on virt-launcher's real domain XML (which already
// writes <smbios mode="sysinfo"> and empty <entry> lines the plugin must fill in place), plus
// libvirt domains with no sysinfo, with <smbios mode='host'> and with two <baseBoard>s. Every
// row that succeeds is also checked for idempotency (twice == once), losslessness (the
// document outside <os><smbios> and <sysinfo type="smbios"> is byte-identical to the input)
// and libvirt's schema (valid wherever the input was). Then one call through `bin/domsplice hook`.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { patch, query } from "../src/index.ts";
import { createSmbiosPlugin } from "../src/plugins/smbios.ts";
import { pluginOptions } from "../src/plugins/options.ts";
import { PluginError, type Plugin, type Vmi } from "../src/plugins/types.ts";
import { corpus } from "./corpus-files.ts";
import { ensureNodeBundle, repoRoot } from "./hook-manager.ts";
import { schemaValidKubevirtDomain, validateDomain } from "./libvirt-schema.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const utf8 = new TextEncoder();

const kubevirtDomain = readFileSync(path.join(corpus, "kubevirt", "domain.xml"));
const validKubevirtDomain = schemaValidKubevirtDomain(kubevirtDomain);
const libvirt = (file: string) => readFileSync(path.join(corpus, "libvirt-domains", file));
/** A libvirt domain with <os> but neither <smbios> nor <sysinfo>. */
const plainDomain = utf8.encode(`<domain type='kvm'>\n  <name>plain</name>\n  <memory unit='KiB'>1024</memory>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n  <devices/>\n</domain>\n`);
const hostModeDomain = libvirt("xml2vmxdata/xml2vmx-smbios.xml");
const twoBaseBoards = libvirt("genericxml2xmlindata/smbios-multiple-type2.xml");

function smbiosVmi(annotations: Record<string, string>): Vmi {
  return {
    kind: "VirtualMachineInstance",
    apiVersion: "kubevirt.io/v1",
    metadata: { name: "testvmi", namespace: "mynamespace", annotations: { "kubevirt.io/latest-observed-api-version": "v1", ...annotations } },
    spec: { domain: { devices: {} } },
  };
}

let plugin: Plugin;
before(async () => {
  plugin = await createSmbiosPlugin(pluginOptions([], {}));
});

async function runPlugin(domainXml: Uint8Array, vmi: Vmi): Promise<Uint8Array> {
  return plugin.onDefineDomain!({ vmi, vmiJson: utf8.encode(JSON.stringify(vmi)), env: {}, domainXml });
}

/** The document without the regions the plugin owns. */
function outsideSmbios(domain: Uint8Array): string {
  return text(patch(domain, [
    { op: "remove", path: "/domain/os/smbios" },
    { op: "remove", path: "/domain/sysinfo[@type='smbios']" },
  ]) as Uint8Array);
}

const entries = (domain: Uint8Array, section: string, field: string) =>
  query(domain, `/domain/sysinfo[@type='smbios']/${section}/entry[@name='${field}']/text()`).map((match) => match.value);

interface Row {
  readonly name: string;
  readonly domain: Uint8Array;
  readonly annotations: Record<string, string>;
  /** Checks on the output. */
  readonly expect?: (output: Uint8Array) => void;
  /** A refusal: the PluginError message must match. */
  readonly refused?: RegExp;
}

const rows: Row[] = [
  {
    name: "KubeVirt's annotation baseBoardManufacturer fills the empty <baseBoard> virt-launcher wrote",
    domain: kubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/baseBoardManufacturer": "Radical Edward" },
    expect: (output) => {
      assert.deepEqual(entries(output, "baseBoard", "manufacturer"), ["Radical Edward"]);
      assert.equal(query(output, "/domain/sysinfo/baseBoard").length, 1, "no second <baseBoard>");
      assert.match(text(output), /<baseBoard>\n      <entry name="manufacturer">Radical Edward<\/entry>\n    <\/baseBoard>/);
    },
  },
  {
    name: "an existing empty entry is edited in place, not duplicated (system.product)",
    domain: kubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/system.product": "Workstation" },
    expect: (output) => {
      assert.deepEqual(entries(output, "system", "product"), ["Workstation"]);
      assert.match(text(output), /<entry name="family"><\/entry>\n      <entry name="product">Workstation<\/entry>\n      <entry name="sku">/);
    },
  },
  {
    name: "an existing entry with a value gets the new value (systemManufacturer over 'Fedora')",
    domain: twoBaseBoards,
    annotations: { "smbios.vm.kubevirt.io/systemManufacturer": "ACME" },
    expect: (output) => assert.deepEqual(entries(output, "system", "manufacturer"), ["ACME"]),
  },
  {
    name: "camel case and dotted spellings reach every section: bios, system, baseBoard, chassis",
    domain: validKubevirtDomain,
    annotations: {
      "smbios.vm.kubevirt.io/biosVendor": "SeaBIOS",
      "smbios.vm.kubevirt.io/bios.date": "01/01/2026",
      "smbios.vm.kubevirt.io/systemSku": "SKU-1",
      "smbios.vm.kubevirt.io/system.family": "Virtual",
      "smbios.vm.kubevirt.io/baseBoardAsset": "A-7",
      "smbios.vm.kubevirt.io/baseBoard.location": "slot 0",
      "smbios.vm.kubevirt.io/chassisSerial": "CH-1",
      "smbios.vm.kubevirt.io/chassis.asset": "tag",
    },
    expect: (output) => {
      assert.deepEqual(entries(output, "bios", "vendor"), ["SeaBIOS"]);
      assert.deepEqual(entries(output, "bios", "date"), ["01/01/2026"]);
      assert.deepEqual(entries(output, "system", "sku"), ["SKU-1"]);
      assert.deepEqual(entries(output, "system", "family"), ["Virtual"]);
      assert.deepEqual(entries(output, "baseBoard", "asset"), ["A-7"]);
      assert.deepEqual(entries(output, "baseBoard", "location"), ["slot 0"]);
      assert.deepEqual(entries(output, "chassis", "serial"), ["CH-1"]);
      assert.deepEqual(entries(output, "chassis", "asset"), ["tag"]);
    },
  },
  {
    name: "a domain with neither <smbios> nor <sysinfo> gets <smbios mode=sysinfo> and a new <sysinfo type=smbios>",
    domain: plainDomain,
    annotations: { "smbios.vm.kubevirt.io/baseBoardManufacturer": "Radical Edward" },
    expect: (output) => {
      assert.deepEqual(query(output, "/domain/os/smbios/@mode").map((m) => m.value), ["sysinfo"]);
      assert.deepEqual(entries(output, "baseBoard", "manufacturer"), ["Radical Edward"]);
      assert.equal(query(output, "/domain/sysinfo").length, 1);
    },
  },
  {
    name: "a partial domain without <os> gets <sysinfo> only (an <os> holding just <smbios> would be invalid)",
    domain: utf8.encode(`<domain type="kvm">\n  <devices></devices>\n</domain>\n`),
    annotations: { "smbios.vm.kubevirt.io/baseBoardManufacturer": "Radical Edward" },
    expect: (output) => {
      assert.equal(query(output, "/domain/os").length, 0);
      assert.deepEqual(entries(output, "baseBoard", "manufacturer"), ["Radical Edward"]);
    },
  },
  {
    name: "<smbios mode='host'> is switched to sysinfo, not joined by a second <smbios>",
    domain: hostModeDomain,
    annotations: { "smbios.vm.kubevirt.io/chassisManufacturer": "ACME" },
    expect: (output) => {
      assert.deepEqual(query(output, "/domain/os/smbios/@mode").map((m) => m.value), ["sysinfo"]);
      assert.match(text(output), /<smbios mode='sysinfo'\/>/, "the document's quote style is kept");
    },
  },
  {
    name: "with two <baseBoard>s (type 2 twice) each one's existing entry is set",
    domain: twoBaseBoards,
    annotations: { "smbios.vm.kubevirt.io/baseBoardProduct": "P1" },
    expect: (output) => {
      assert.deepEqual(entries(output, "baseBoard", "product"), ["P1", "P1"]);
      assert.equal(query(output, "/domain/sysinfo/baseBoard").length, 2);
    },
  },
  {
    name: "values are escaped as text (& < > quotes)",
    domain: validKubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/systemVersion": `1 < 2 & "x" > 'y'` },
    expect: (output) => {
      assert.deepEqual(entries(output, "system", "version"), [`1 < 2 & "x" > 'y'`]);
      assert.match(text(output), /1 &lt; 2 &amp; "x" &gt; 'y'/);
    },
  },
  {
    name: "an empty value writes an empty entry",
    domain: plainDomain,
    annotations: { "smbios.vm.kubevirt.io/biosVersion": "" },
    expect: (output) => assert.equal(query(output, "/domain/sysinfo/bios/entry[@name='version']").length, 1),
  },
  {
    name: "oemStrings: one <entry> per line, added to <sysinfo>",
    domain: validKubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/oemStrings": "myappname:myappvalue\nsecond & third\n" },
    expect: (output) => {
      assert.deepEqual(query(output, "/domain/sysinfo/oemStrings/entry/text()").map((m) => m.value), ["myappname:myappvalue", "second & third"]);
    },
  },
  {
    name: "oemStrings: an existing <oemStrings> is replaced in place by the annotation's lines",
    domain: utf8.encode(`<domain>\n  <os>\n    <type>hvm</type>\n    <smbios mode="sysinfo"/>\n  </os>\n  <sysinfo type="smbios">\n    <oemStrings>\n      <entry>old</entry>\n    </oemStrings>\n    <chassis>\n      <entry name="sku">x</entry>\n    </chassis>\n  </sysinfo>\n</domain>\n`),
    annotations: { "smbios.vm.kubevirt.io/oemStrings": "new" },
    expect: (output) => {
      assert.deepEqual(query(output, "/domain/sysinfo/oemStrings/entry/text()").map((m) => m.value), ["new"]);
      assert.match(text(output), /<sysinfo type="smbios">\n    <oemStrings>\n      <entry>new<\/entry>\n    <\/oemStrings>\n    <chassis>/);
    },
  },
  {
    name: "both spellings of one field with the same value are one entry",
    domain: validKubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/baseBoardSerial": "S", "smbios.vm.kubevirt.io/baseBoard.serial": "S" },
    expect: (output) => assert.deepEqual(entries(output, "baseBoard", "serial"), ["S"]),
  },
  {
    name: "a sysinfo of type fwcfg is left alone; an smbios one is added beside it",
    domain: libvirt("qemuxmlconfdata/smbios-type-fwcfg.x86_64-latest.xml"),
    annotations: { "smbios.vm.kubevirt.io/baseBoardManufacturer": "Radical Edward" },
    expect: (output) => assert.deepEqual(entries(output, "baseBoard", "manufacturer"), ["Radical Edward"]),
  },
  {
    name: "refused: an unknown section, naming the annotation and the valid names",
    domain: kubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/processorVersion": "x" },
    refused: /^annotation smbios\.vm\.kubevirt\.io\/processorVersion: 'processorVersion' is not an SMBIOS field libvirt knows; use one of biosVendor, .*baseBoardManufacturer.*, oemStrings/,
  },
  {
    name: "refused: an unknown field of a known section (baseBoard.colour)",
    domain: kubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/baseBoard.colour": "red" },
    refused: /^annotation smbios\.vm\.kubevirt\.io\/baseBoard\.colour: 'baseBoard\.colour' is not an SMBIOS field/,
  },
  {
    name: "refused: the wrong case (baseboardManufacturer is not KubeVirt's spelling)",
    domain: kubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/baseboardManufacturer": "x" },
    refused: /^annotation smbios\.vm\.kubevirt\.io\/baseboardManufacturer: /,
  },
  {
    name: "refused: a field libvirt has in another section only (bios.serial)",
    domain: kubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/bios.serial": "x" },
    refused: /^annotation smbios\.vm\.kubevirt\.io\/bios\.serial: /,
  },
  {
    name: "refused: the system uuid (libvirt requires the domain's; KubeVirt sets it from spec.domain.firmware.uuid)",
    domain: kubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/systemUuid": "00000000-0000-0000-0000-000000000000" },
    refused: /^annotation smbios\.vm\.kubevirt\.io\/systemUuid: the system uuid must equal the domain's; set spec\.domain\.firmware\.uuid instead$/,
  },
  {
    name: "refused: both spellings of one field with different values",
    domain: kubevirtDomain,
    annotations: { "smbios.vm.kubevirt.io/chassisSku": "a", "smbios.vm.kubevirt.io/chassis.sku": "b" },
    refused: /^annotations smbios\.vm\.kubevirt\.io\/chassisSku and smbios\.vm\.kubevirt\.io\/chassis\.sku both set SMBIOS chassis\.sku to different values$/,
  },
];

describe("smbios: one row per behaviour (each also twice == once, lossless, schema-valid wherever the input was)", () => {
  for (const row of rows) {
    test(row.name, async () => {
      const vmi = smbiosVmi(row.annotations);
      if (row.refused) {
        await assert.rejects(runPlugin(row.domain, vmi), (error: unknown) => {
          assert.ok(error instanceof PluginError, String(error));
          assert.match(error.message, row.refused!);
          return true;
        });
        return;
      }
      const output = await runPlugin(row.domain, vmi);
      row.expect?.(output);
      assert.equal(text(await runPlugin(output, vmi)), text(output), "twice == once");
      assert.equal(outsideSmbios(output), outsideSmbios(row.domain), "lossless outside <os><smbios> and <sysinfo type=smbios>");
      if (validateDomain(row.domain).valid) {
        const verdict = validateDomain(output);
        assert.ok(verdict.valid, verdict.messages);
      }
    });
  }

  test("no smbios annotation: the domain comes back as the same bytes", async () => {
    const vmi = smbiosVmi({ "sidecar.istio.io/inject": "true", "smbios.vm.kubevirt.io.example/other": "x" });
    assert.equal(await runPlugin(kubevirtDomain, vmi), kubevirtDomain);
  });

  test("every KubeVirt corpus domain: twice == once, lossless, schema-valid wherever the input was", async () => {
    const vmi = smbiosVmi({ "smbios.vm.kubevirt.io/baseBoardManufacturer": "Radical Edward", "smbios.vm.kubevirt.io/oemStrings": "a\nb" });
    const dir = path.join(corpus, "kubevirt");
    const inputs = [validKubevirtDomain, ...["domain.xml", "domain_arm64.xml", "domain_s390x.xml", "domain_x86_64.xml", "domain_x86_64_root.xml", "migration_domain.xml"].map((file) => readFileSync(path.join(dir, file)))];
    for (const input of inputs) {
      const output = await runPlugin(input, vmi);
      assert.deepEqual(entries(output, "baseBoard", "manufacturer"), ["Radical Edward"]);
      assert.equal(text(await runPlugin(output, vmi)), text(output));
      assert.equal(outsideSmbios(output), outsideSmbios(input));
      if (validateDomain(input).valid) assert.ok(validateDomain(output).valid, validateDomain(output).messages);
    }
  });
});

describe("smbios through domsplice hook", () => {
  before(async () => {
    await ensureNodeBundle();
  });

  test("bin/domsplice hook --plugin smbios: prints the domain with the entry; a refusal is one line, exit 2", () => {
    const domainFile = path.join(corpus, "kubevirt", "domain.xml");
    const cli = (annotations: Record<string, string>) => [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", "smbios", "--vmi", JSON.stringify(smbiosVmi(annotations)), "--domain", domainFile];
    const run = spawnSync(process.execPath, cli({ "smbios.vm.kubevirt.io/baseBoardManufacturer": "Radical Edward" }), { encoding: "buffer", timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr.toString());
    assert.deepEqual(entries(run.stdout, "baseBoard", "manufacturer"), ["Radical Edward"]);
    assert.equal(outsideSmbios(run.stdout), outsideSmbios(kubevirtDomain));

    const refused = spawnSync(process.execPath, cli({ "smbios.vm.kubevirt.io/baseBoardColour": "red" }), { encoding: "utf8", timeout: 20_000 });
    assert.equal(refused.status, 2);
    assert.equal(refused.stdout, "");
    assert.match(refused.stderr, /^[^\n]*plugin smbios: annotation smbios\.vm\.kubevirt\.io\/baseBoardColour: 'baseBoardColour' is not an SMBIOS field[^\n]*\n$/);
  });
});
