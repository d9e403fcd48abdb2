// The chain of issue 4: passt, then smbios, then an annotation patch, through ONE
// `bin/domsplice serve --plugin passt --plugin smbios --plugin annotation-patch` process
// (serve runs the plugins in the order given, each on the previous one's output), called by
// virt-launcher's hook manager (test/hook-manager.ts) with KubeVirt's domain.xml and a VMI with
// a passt-bound pod interface, smbios.vm.kubevirt.io/ annotations and a domsplice.io/patch
// annotation the default policy allows.
//
// Checked: every change of every plugin is in the output (read back with query()); passt's
// <source dev> survives the later plugins (KubeVirt's own smbios sidecar, run after its passt
// sidecar, unmarshals the domain into Go structs that have no field for it and drops it); a line
// diff of input and output whose every changed line lies inside a region a plugin owns (the
// check is shown to catch stray edits on tampered outputs); twice == once; libvirt's schema
// wherever the input passed it; the Plugin API (MutateDomain) and `domsplice hook` give the
// same bytes as the legacy OnDefineDomain call. Then each plugin alone (passt, smbios,
// annotation-patch, slirp, tap, cloud-init; exec has its own serve test): serve == hook.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { DocumentReader, query } from "../src/index.ts";
import { corpus } from "./corpus-files.ts";
import { callMutateDomain, cloudInitData, ensureNodeBundle, HookManager, repoRoot, startSidecar, vmiJson, type SidecarProcess } from "./hook-manager.ts";
import { schemaValidKubevirtDomain, validateDomain, validatePasstDomain } from "./libvirt-schema.ts";

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const CHAIN = ["passt", "smbios", "annotation-patch"] as const;
const domainFile = path.join(corpus, "kubevirt", "domain.xml");
const kubevirtDomain = new Uint8Array(readFileSync(domainFile));

// ---------------------------------------------------------------------------------------------
// The VMI: hook-manager's virt-launcher VMI (the one behind domain.xml), its pod interface bound
// to passt, with SMBIOS strings and a patch from its owner

const BASE_BOARD_MANUFACTURER = "Acme Boards & Sons <lab>"; // escaped in the XML, read back decoded
const SYSTEM_PRODUCT = "Rocket 9";

/** The VM owner's patch, YAML as written in the annotation: each op inside a default-policy area. */
const OWNER_PATCH = `# tuning KubeVirt's API does not expose
- op: set
  path: /domain/cpu/@mode
  value: host-passthrough
- op: set
  path: /domain/clock/timer[@name='hpet']/@present
  value: "yes"
- op: ensure
  path: /domain/features/ioapic[@driver='kvm']
- op: ensure
  path: /domain/devices/interface[alias/@name='ua-default']/driver
- op: set
  path: /domain/devices/interface[alias/@name='ua-default']/driver/@queues
  value: "4"
`;

function chainVmi(): Uint8Array {
  const vmi = JSON.parse(vmiJson);
  vmi.metadata.annotations = {
    ...vmi.metadata.annotations,
    "hooks.kubevirt.io/hookSidecars": JSON.stringify([{ image: "registry:5000/domsplice:devel", args: CHAIN.flatMap((name) => ["--plugin", name]) }]),
    "smbios.vm.kubevirt.io/baseBoardManufacturer": BASE_BOARD_MANUFACTURER,
    "smbios.vm.kubevirt.io/system.product": SYSTEM_PRODUCT,
    "domsplice.io/patch": OWNER_PATCH,
  };
  vmi.spec.domain.devices.interfaces = [
    { name: "default", binding: { name: "passt" }, macAddress: "02:7e:2c:00:00:01", ports: [{ name: "http", protocol: "TCP", port: 80 }, { name: "dns", protocol: "UDP", port: 53 }] },
  ];
  return utf8.encode(JSON.stringify(vmi));
}

// ---------------------------------------------------------------------------------------------
// What each plugin owns, and the stray-edit check

/**
 * A region of the document a plugin may change: the elements `path` selects, or, for a path
 * ending in /@attr, only the start tags of the elements it names (the attribute may be new).
 */
export interface OwnedRegion {
  readonly plugin: string;
  readonly path: string;
}

const PASST_INTERFACE = "/domain/devices/interface[alias/@name='ua-default']";

const ownedRegions: readonly OwnedRegion[] = [
  { plugin: "passt", path: "/domain/memoryBacking" },
  { plugin: "passt", path: PASST_INTERFACE },
  { plugin: "smbios", path: "/domain/os/smbios" },
  { plugin: "smbios", path: "/domain/sysinfo/system/entry[@name='product']" },
  { plugin: "smbios", path: "/domain/sysinfo/baseBoard" },
  { plugin: "annotation-patch", path: "/domain/cpu/@mode" },
  { plugin: "annotation-patch", path: "/domain/clock/timer[@name='hpet']/@present" },
  { plugin: "annotation-patch", path: "/domain/features/ioapic" },
  { plugin: "annotation-patch", path: `${PASST_INTERFACE}/driver` },
];

/** Byte ranges [start, end) of the regions in one document. */
function regionRanges(domain: Uint8Array, regions: readonly OwnedRegion[]): [number, number][] {
  const reader = new DocumentReader(domain);
  const ranges: [number, number][] = [];
  for (const { path: regionPath } of regions) {
    const attribute = regionPath.match(/^(.*)\/@[\w:.-]+$/);
    for (const match of reader.query(attribute ? attribute[1] : regionPath)) {
      ranges.push([match.start, attribute ? startTagEnd(domain, match.start) : match.end]);
    }
  }
  return ranges;
}

/** The offset just after the '>' that ends the start tag at `start` (quotes may hold '>'). */
function startTagEnd(bytes: Uint8Array, start: number): number {
  let quote = 0;
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i];
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) quote = c;
    else if (c === 0x3e) return i + 1;
  }
  return bytes.length;
}

interface Line {
  readonly start: number;
  /** Before the line feed. */
  readonly end: number;
  /** The bytes, line feed excluded, as a string that compares byte for byte. */
  readonly key: string;
}

function linesOf(bytes: Uint8Array): Line[] {
  const lines: Line[] = [];
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  let start = 0;
  for (;;) {
    const newline = latin1.indexOf("\n", start);
    const end = newline < 0 ? latin1.length : newline;
    lines.push({ start, end, key: latin1.slice(start, end) });
    if (newline < 0) return lines;
    start = newline + 1;
  }
}

/** One hunk of a line diff: lines [a0, a1) of a replaced by lines [b0, b1) of b (either may be empty). */
interface Hunk {
  readonly a0: number;
  readonly a1: number;
  readonly b0: number;
  readonly b1: number;
}

/** The line diff of a and b (longest common subsequence), as hunks of lines that are not common. */
function lineDiff(a: readonly Line[], b: readonly Line[]): Hunk[] {
  const n = a.length;
  const m = b.length;
  // lcs[i * (m + 1) + j]: length of the LCS of a[i..] and b[j..].
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = a[i].key === b[j].key ? lcs[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
    }
  }
  const common = (i: number, j: number) => i < n && j < m && a[i].key === b[j].key;
  const hunks: Hunk[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (common(i, j)) {
      i++;
      j++;
      continue;
    }
    const a0 = i;
    const b0 = j;
    while ((i < n || j < m) && !common(i, j)) {
      if (j >= m || (i < n && lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1])) i++;
      else j++;
    }
    hunks.push({ a0, a1: i, b0, b1: j });
  }
  return hunks;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

/** Byte range of lines [from, to), with the line feed after the last when there is one. */
function lineSpan(lines: readonly Line[], from: number, to: number, size: number): [number, number] {
  if (from === to) {
    const at = from < lines.length ? lines[from].start : size;
    return [at, at];
  }
  return [lines[from].start, Math.min(lines[to - 1].end + 1, size)];
}

/**
 * The bytes of [from, to) that are not the plugins': when the range holds more than
 * whitespace, its non-whitespace bytes outside every region (the indentation and line breaks
 * around an owned element are its owner's); when only whitespace changed, every byte outside.
 */
function unownedBytes(bytes: Uint8Array, from: number, to: number, ranges: readonly [number, number][]): number[] {
  const inside = (offset: number) => ranges.some(([start, end]) => start <= offset && offset < end);
  let onlySpace = true;
  for (let k = from; k < to && onlySpace; k++) if (!isSpace(bytes[k])) onlySpace = false;
  const unowned: number[] = [];
  for (let k = from; k < to; k++) if ((onlySpace || !isSpace(bytes[k])) && !inside(k)) unowned.push(k);
  return unowned;
}

/** The 0-based line holding byte `offset`. */
function lineAt(lines: readonly Line[], offset: number): number {
  let line = 0;
  while (line + 1 < lines.length && lines[line + 1].start <= offset) line++;
  return line;
}

/**
 * The edits of `output` against `input` that fall outside every owned region, as the lines they
 * are on: "input line N: text" for what was taken out or changed (judged on the input's
 * regions), "output line N: text" for what was put in (on the output's). A line diff finds the
 * hunks; in each, the bytes both sides share at its start and at its end are common, and what
 * remains must lie inside the regions. Empty when the plugins changed only what they own.
 */
export function strayEdits(input: Uint8Array, output: Uint8Array, regions: readonly OwnedRegion[]): string[] {
  const inputLines = linesOf(input);
  const outputLines = linesOf(output);
  const inputRanges = regionRanges(input, regions);
  const outputRanges = regionRanges(output, regions);
  const strayInput = new Set<number>();
  const strayOutput = new Set<number>();
  for (const hunk of lineDiff(inputLines, outputLines)) {
    let [ia, ib] = lineSpan(inputLines, hunk.a0, hunk.a1, input.length);
    let [oa, ob] = lineSpan(outputLines, hunk.b0, hunk.b1, output.length);
    while (ia < ib && oa < ob && input[ia] === output[oa]) (ia++, oa++);
    while (ia < ib && oa < ob && input[ib - 1] === output[ob - 1]) (ib--, ob--);
    for (const offset of unownedBytes(input, ia, ib, inputRanges)) strayInput.add(lineAt(inputLines, offset));
    for (const offset of unownedBytes(output, oa, ob, outputRanges)) strayOutput.add(lineAt(outputLines, offset));
  }
  const described = (lines: readonly Line[], side: string, stray: Set<number>) =>
    [...stray].sort((x, y) => x - y).map((line) => `${side} line ${line + 1}: ${lines[line].key.trim()}`);
  return [...described(inputLines, "input", strayInput), ...described(outputLines, "output", strayOutput)];
}

/** How many lines the diff changes (taken out + put in), to show the check had something to judge. */
function changedLineCount(input: Uint8Array, output: Uint8Array): number {
  return lineDiff(linesOf(input), linesOf(output)).reduce((sum, hunk) => sum + (hunk.a1 - hunk.a0) + (hunk.b1 - hunk.b0), 0);
}

/** `output` with its first `from` replaced by `to`; fails when `from` is not there. */
function tamper(output: Uint8Array, from: string, to: string): Uint8Array {
  const source = text(output);
  assert.ok(source.includes(from), `the output holds ${JSON.stringify(from)}`);
  return utf8.encode(source.replace(from, to));
}

/** "input line N: text" for the line of `document` that holds `snippet` (found by search, not by the diff). */
function lineNamed(document: Uint8Array, side: "input" | "output", snippet: string): string {
  const source = text(document);
  const at = source.indexOf(snippet);
  assert.ok(at >= 0, `${side} holds ${JSON.stringify(snippet)}`);
  const line = source.slice(0, at).split("\n").length;
  return `${side} line ${line}: ${source.split("\n")[line - 1].trim()}`;
}

// ---------------------------------------------------------------------------------------------
// Reading every plugin's changes back

const value = (domain: Uint8Array, selector: string) => query(domain, selector).map((match) => match.value);

/** Every change each plugin makes, read back with query(), as assertion failures (empty: all present). */
function missingChanges(domain: Uint8Array): string[] {
  const expect: [plugin: string, selector: string, expected: string[]][] = [
    // passt (KubeVirt's network-passt-binding): memfd + shared memory, the vhostuser interface
    ["passt", "/domain/memoryBacking/source/@type", ["memfd"]],
    ["passt", "/domain/memoryBacking/access/@mode", ["shared"]],
    ["passt", `${PASST_INTERFACE}/@type`, ["vhostuser"]],
    ["passt", `${PASST_INTERFACE}/source/@dev`, ["eth0"]],
    ["passt", `${PASST_INTERFACE}/model/@type`, ["virtio-non-transitional"]],
    ["passt", `${PASST_INTERFACE}/mac/@address`, ["02:7e:2c:00:00:01"]],
    ["passt", `${PASST_INTERFACE}/backend/@type`, ["passt"]],
    ["passt", `${PASST_INTERFACE}/backend/@logFile`, ["/var/run/kubevirt/passt.log"]],
    ["passt", `${PASST_INTERFACE}/portForward[@proto='tcp']/range/@start`, ["80"]],
    ["passt", `${PASST_INTERFACE}/portForward[@proto='udp']/range/@start`, ["53"]],
    ["passt", `${PASST_INTERFACE}/rom`, []], // KubeVirt's ethernet interface had <rom enabled="no">; passt's has none
    // smbios (KubeVirt's smbios sidecar, every field libvirt knows)
    ["smbios", "/domain/os/smbios/@mode", ["sysinfo"]],
    ["smbios", "/domain/sysinfo[@type='smbios']/baseBoard/entry[@name='manufacturer']/text()", [BASE_BOARD_MANUFACTURER]],
    ["smbios", "/domain/sysinfo[@type='smbios']/system/entry[@name='product']/text()", [SYSTEM_PRODUCT]],
    // annotation-patch (the owner's YAML patch)
    ["annotation-patch", "/domain/cpu/@mode", ["host-passthrough"]],
    ["annotation-patch", "/domain/clock/timer[@name='hpet']/@present", ["yes"]],
    ["annotation-patch", "/domain/features/ioapic/@driver", ["kvm"]],
    ["annotation-patch", `${PASST_INTERFACE}/driver/@queues`, ["4"]],
  ];
  const missing: string[] = [];
  for (const [plugin, selector, expected] of expect) {
    const actual = value(domain, selector);
    if (JSON.stringify(actual) !== JSON.stringify(expected)) missing.push(`${plugin}: ${selector} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
  return missing;
}

// ---------------------------------------------------------------------------------------------

describe("chain: passt, smbios and annotation-patch in one serve process", () => {
  let sidecar: SidecarProcess | undefined;
  let manager: HookManager;
  const vmi = chainVmi();
  let output: Uint8Array;

  before(async () => {
    await ensureNodeBundle();
    sidecar = await startSidecar("node", ["--name", "domsplice"], { plugins: CHAIN });
    manager = new HookManager(path.dirname(sidecar.socket));
    await manager.collect(1, 10_000);
    output = await manager.onDefineDomain(kubevirtDomain, vmi);
  });

  after(async () => {
    await sidecar?.stop();
  });

  test("serve runs the plugins in the order given: its log names them, Info lists OnDefineDomain", () => {
    assert.deepEqual(
      manager.callbacksPerHookPoint.get("OnDefineDomain")?.map((found) => found.info.name),
      ["domsplice"],
    );
    assert.deepEqual(sidecar!.serving.plugins, [...CHAIN], `the "serving" line: ${JSON.stringify(sidecar!.serving)}`);
    const call = sidecar!.logs.find((line) => String(line.method).endsWith("/OnDefineDomain"));
    assert.equal(call?.plugin, CHAIN.join(","), `the call's log line: ${JSON.stringify(call)}`);
  });

  test("every change of every plugin is present in the output", () => {
    assert.deepEqual(missingChanges(output), []);
    assert.deepEqual(missingChanges(kubevirtDomain).length > 0, true, "the input has none of them (the check can fail)");
  });

  test("passt's <source dev> survives smbios and annotation-patch (KubeVirt's smbios sidecar after its passt sidecar drops it: its Go structs have no field for it)", () => {
    assert.deepEqual(value(output, `${PASST_INTERFACE}/source/@dev`), ["eth0"]);
    // The interface passt wrote is still passt's own bytes, plus the owner's <driver> only.
    const passtAlone = query(output, PASST_INTERFACE)[0].value.replace(/\n\s*<driver queues="4"><\/driver>/, "");
    assert.doesNotMatch(passtAlone, /<driver/);
    assert.match(passtAlone, /^<interface type="vhostuser">\n\s*<source dev="eth0"><\/source>\n/);
  });

  test("lossless: every line the diff changes lies inside a region a plugin owns; everything else is byte-identical", () => {
    assert.ok(changedLineCount(kubevirtDomain, output) >= 20, "the plugins changed something to judge");
    assert.deepEqual(strayEdits(kubevirtDomain, output, ownedRegions), []);
  });

  test("the stray-edit check catches an edit outside the regions (tampered outputs)", () => {
    const inputAt = (line: string) => lineNamed(kubevirtDomain, "input", line);
    const cases: [name: string, tampered: Uint8Array, stray: (tampered: Uint8Array) => string[]][] = [
      ["a changed value", tamper(output, `<vcpu placement="static">1</vcpu>`, `<vcpu placement="static">2</vcpu>`), (t) => [
        inputAt(`<vcpu placement="static">1</vcpu>`),
        lineNamed(t, "output", `<vcpu placement="static">2</vcpu>`),
      ]],
      ["an inserted comment line", tamper(output, `  <iothreads>3</iothreads>\n`, `  <iothreads>3</iothreads>\n  <!-- stray -->\n`), (t) => [lineNamed(t, "output", `<!-- stray -->`)]],
      ["a line re-indented", tamper(output, `\n    <rng model=`, `\n\t<rng model=`), (t) => [
        inputAt(`<rng model="virtio-non-transitional">`),
        lineNamed(t, "output", `<rng model="virtio-non-transitional">`),
      ]],
      ["a dropped line", tamper(output, `      <entry name="sku"></entry>\n`, ``), () => [inputAt(`<entry name="sku"></entry>`)]],
      // <cpu mode> is owned as a start tag only: the <topology> line inside <cpu> is not.
      ["an edit inside an element whose attribute is owned", tamper(output, `cores="1"`, `cores="2"`), (t) => [
        inputAt(`<topology sockets="1" cores="1" threads="1"></topology>`),
        lineNamed(t, "output", `<topology sockets="1" cores="2" threads="1"></topology>`),
      ]],
      ["text changed on the line of an owned start tag", tamper(output, `tickpolicy="delay" present="yes"></timer>`, `tickpolicy="delay" present="yes">x</timer>`), (t) => [
        // The input's side of that line changed only inside the owned start tag (present="no").
        lineNamed(t, "output", `<timer name="hpet" tickpolicy="delay" present="yes">x</timer>`),
      ]],
      ["whitespace added at the end of a line", tamper(output, `<iothreads>3</iothreads>`, `<iothreads>3</iothreads> `), (t) => [lineNamed(t, "output", `<iothreads>3</iothreads>`)]],
    ];
    for (const [name, tampered, stray] of cases) assert.deepEqual(strayEdits(kubevirtDomain, tampered, ownedRegions), stray(tampered), name);
    // Each plugin's edits are stray without its regions: the regions are what admits them.
    for (const plugin of CHAIN) {
      const without = ownedRegions.filter((region) => region.plugin !== plugin);
      assert.ok(strayEdits(kubevirtDomain, output, without).length > 0, `${plugin}'s edits are outside the other plugins' regions`);
    }
    // And an edit inside an owned region is not stray.
    assert.deepEqual(strayEdits(kubevirtDomain, tamper(output, "Rocket 9", "Rocket 10"), ownedRegions), []);
  });

  test("twice == once: the output fed back through the chain comes back byte for byte", async () => {
    const twice = await manager.onDefineDomain(output, vmi);
    assert.equal(text(twice), text(output));
  });

  test("libvirt schema: the output validates wherever the input did (KubeVirt's domain made schema-valid; the example itself fails it)", async () => {
    assert.equal(validateDomain(kubevirtDomain).valid, false, "KubeVirt's example domain fails libvirt's schema on its own (empty sysinfo children, name= on block disk sources)");
    const schemaValid = schemaValidKubevirtDomain(kubevirtDomain);
    assert.ok(validateDomain(schemaValid).valid, "the input made schema-valid validates");
    const chained = await manager.onDefineDomain(schemaValid, vmi);
    assert.deepEqual(missingChanges(chained), []);
    assert.deepEqual(strayEdits(schemaValid, chained, ownedRegions), []);
    const verdict = validatePasstDomain(chained);
    assert.ok(verdict.valid, verdict.messages);
  });

  test("every KubeVirt corpus domain: all changes present, lossless, twice == once", async () => {
    for (const file of ["domain_x86_64.xml", "domain_x86_64_root.xml", "domain_arm64.xml", "domain_s390x.xml"]) {
      const input = new Uint8Array(readFileSync(path.join(corpus, "kubevirt", file)));
      const chained = await manager.onDefineDomain(input, vmi);
      assert.deepEqual(missingChanges(chained), [], file);
      assert.deepEqual(strayEdits(input, chained, ownedRegions), [], file);
      assert.equal(text(await manager.onDefineDomain(chained, vmi)), text(chained), `${file}: twice == once`);
    }
  });

  test("the Plugin API (MutateDomain, KubeVirt >= 1.9) gives the same bytes", async () => {
    const mutated = await callMutateDomain(sidecar!.pluginSocket, { domain: kubevirtDomain, vmi, invocationContext: "Boot" });
    assert.equal(text(mutated), text(output));
  });

  test("bin/domsplice hook with the same three plugins gives the same bytes as serve", () => {
    const run = spawnSync(
      process.execPath,
      [path.join(repoRoot, "bin", "domsplice"), "hook", ...CHAIN.flatMap((name) => ["--plugin", name]), "--vmi", text(vmi), "--domain", domainFile],
      { encoding: "buffer", timeout: 20_000 },
    );
    assert.equal(run.status, 0, run.stderr.toString());
    assert.equal(run.stdout.toString("utf8"), text(output));
  });

  test("Shutdown stops the sidecar cleanly", async () => {
    await manager.shutdown();
    assert.deepEqual(await sidecar!.exited, { code: 0, signal: null });
  });
});

// ---------------------------------------------------------------------------------------------
// Each plugin alone: `serve` answers with the bytes `hook` prints (DESIGN.md: hook runs exactly
// the code path serve runs), so every plugin's hook-level tests hold for the sidecar too.

/** The chain's VMI with its pod interface bound to `binding` instead of passt. */
function vmiBoundTo(binding: string): Uint8Array {
  const vmi = JSON.parse(text(chainVmi()));
  vmi.spec.domain.devices.interfaces[0].binding = { name: binding };
  return utf8.encode(JSON.stringify(vmi));
}

function hookOutput(plugin: string, vmi: Uint8Array, input: ["--domain", string] | ["--cloud-init", string]): string {
  const run = spawnSync(process.execPath, [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", plugin, "--vmi", text(vmi), ...input], { encoding: "utf8", timeout: 20_000 });
  assert.equal(run.status, 0, `hook --plugin ${plugin}: ${run.stderr}`);
  return run.stdout;
}

describe("each plugin alone: serve gives the bytes hook prints", () => {
  before(async () => {
    await ensureNodeBundle();
  });

  const domainPlugins: [plugin: string, vmi: () => Uint8Array][] = [
    ["passt", chainVmi],
    ["smbios", chainVmi],
    ["annotation-patch", chainVmi],
    ["slirp", () => vmiBoundTo("slirp")],
    ["tap", () => vmiBoundTo("tap")],
  ];
  for (const [plugin, makeVmi] of domainPlugins) {
    test(`${plugin}: OnDefineDomain through serve == domsplice hook, and it changed the domain`, async () => {
      const vmi = makeVmi();
      const sidecar = await startSidecar("node", [], { plugins: [plugin] });
      try {
        const manager = new HookManager(path.dirname(sidecar.socket));
        await manager.collect(1, 10_000);
        const served = text(await manager.onDefineDomain(kubevirtDomain, vmi));
        assert.notEqual(served, text(kubevirtDomain), "the plugin changed something");
        assert.equal(served, hookOutput(plugin, vmi, ["--domain", domainFile]));
      } finally {
        await sidecar.stop();
      }
    });
  }

  test("cloud-init: PreCloudInitIso through serve == domsplice hook, and it changed the data", async () => {
    const vmi = JSON.parse(vmiJson);
    vmi.metadata.annotations["domsplice.io/cloud-init-patch"] = JSON.stringify({ NoCloudMetaData: { "local-hostname": "db-1" } });
    const vmiBytes = utf8.encode(JSON.stringify(vmi));
    const sidecar = await startSidecar("node", [], { plugins: ["cloud-init"] });
    try {
      const manager = new HookManager(path.dirname(sidecar.socket));
      await manager.collect(1, 10_000);
      const served = await manager.preCloudInitIso(vmiBytes, cloudInitData);
      assert.equal((served.NoCloudMetaData as Record<string, unknown>)["local-hostname"], "db-1");
      assert.deepEqual(served, JSON.parse(hookOutput("cloud-init", vmiBytes, ["--cloud-init", JSON.stringify(cloudInitData)])));
    } finally {
      await sidecar.stop();
    }
  });
});
