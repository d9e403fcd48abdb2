// releaseKernelMemory() (src/xml/wasm.ts): the WASM kernel's instance and every view onto its
// linear memory are dropped, tokenizer.ts's lending table with them, so the runtime can free the
// memory; the next WASM scan instantiates the kept module anew and must give the same answers as
// before. Also the sidecar's use of it (src/hooks/memory.ts: released at the idle collection
// after a large call, retried when a table was lent at that moment).
//
// The tests share the module state of one process and run in order; the first needs the kernel
// never to have been loaded.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { releaseKernelMemory, releaseLentTable, wasmKernelLoaded, wasmKernelMemory, wasmTableLent } from "../src/xml/wasm.ts";
import { tokenize, tokenizeLent, type TokenizeResult } from "../src/xml/tokenizer.ts";
import { check } from "../src/xml/check.ts";
import { patch } from "../src/xml/patch.ts";
import type { PatchOp } from "../src/xml/plan.ts";
import { releaseKernelMemory as releaseFromIndex } from "../src/index.ts";
import { collectAfterCall, IDLE_COLLECT_MS, LARGE_CALL_BYTES } from "../src/hooks/memory.ts";
import { corpus, domainCorpusFiles } from "./corpus-files.ts";

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A full collection in this process: --expose-gc set at run time gives a new context its gc().
v8.setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/**
 * Collects until `ref` is cleared or `rounds` collections have run. A WeakRef's target is kept
 * until the current job ends (WeakRef semantics), hence a macrotask between the collections.
 */
async function collected(ref: WeakRef<object>, rounds = 4): Promise<boolean> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    if (ref.deref() === undefined) return true;
  }
  return false;
}

const kubevirtDomain = readFileSync(path.join(corpus, "kubevirt", "domain.xml"));

/** KubeVirt's domain with its devices repeated up to `size` bytes (as test/wasm.test.ts does). */
function repeatedDomain(size: number): Uint8Array {
  const src = kubevirtDomain.toString("utf8");
  const a = src.indexOf("<devices>") + "<devices>".length;
  const b = src.indexOf("</devices>");
  const parts = [src.slice(0, a)];
  for (let length = src.length; length < size; length += b - a) parts.push(src.slice(a, b));
  parts.push(src.slice(b));
  return encoder.encode(parts.join(""));
}

/** Every 10th libvirt domain of the corpus (28 of 280, every kind of directory), and KubeVirt's. */
const smallInputs: Array<[string, Uint8Array]> = [
  ...domainCorpusFiles()
    .filter((f) => f.includes(`${path.sep}libvirt-domains${path.sep}`))
    .filter((_, i) => i % 10 === 0)
    .map((f): [string, Uint8Array] => [path.relative(corpus, f), readFileSync(f)]),
  ["kubevirt/domain.xml", kubevirtDomain],
];
const large = repeatedDomain(1 << 20);
/** Larger than the kernel's initial memory: its scan grows the memory. */
const larger = repeatedDomain(5 << 20);

/** A tokenize() outcome as plain data: the error, or the table's used part column by column. */
function outcome(result: TokenizeResult): unknown {
  if (!result.ok) return { error: result.error };
  const { count, root } = result.table;
  const columns = (["kind", "start", "end", "mid", "link"] as const).map((c) => Array.from(result.table[c].subarray(0, count)));
  return { count, root, columns };
}

function sameOutcome(ts: TokenizeResult, wasm: TokenizeResult, label: string): void {
  assert.deepEqual(outcome(wasm), outcome(ts), label);
}

const ops: PatchOp[] = [
  { op: "set", path: "/domain/@type", value: "kvm" },
  { op: "add", path: "/domain", xml: "<description>released</description>" },
];

/** patch()'s bytes, or its error's code and message. */
function patched(bytes: Uint8Array, kernel: "ts" | "wasm"): string {
  try {
    return Buffer.from(patch(bytes, ops, { kernel })).toString("latin1");
  } catch (error) {
    return `error ${(error as { code?: string }).code}: ${(error as Error).message}`;
  }
}

/** tokenize (copied out and lent), check and patch of `bytes` with the WASM kernel agree with the TS kernel. */
function assertSameAsTs(bytes: Uint8Array, label: string): void {
  sameOutcome(tokenize(bytes, { kernel: "ts" }), tokenize(bytes, { kernel: "wasm" }), `${label}: tokenize`);
  const lent = tokenizeLent(bytes, { kernel: "wasm" });
  try {
    sameOutcome(tokenize(bytes, { kernel: "ts" }), lent, `${label}: tokenizeLent`);
  } finally {
    releaseLentTable();
  }
  assert.deepEqual(check(bytes, { kernel: "wasm" }), check(bytes, { kernel: "ts" }), `${label}: check`);
  assert.equal(patched(bytes, "wasm"), patched(bytes, "ts"), `${label}: patch`);
}

describe("releaseKernelMemory()", () => {
  test("before the kernel was ever loaded: nothing to do, and the first scan loads it", () => {
    assert.equal(wasmKernelLoaded(), false, "no test before this one loaded the kernel");
    assert.equal(releaseKernelMemory(), true);
    assert.equal(releaseKernelMemory(), true, "twice");
    assert.equal(wasmKernelMemory(), null);
    assertSameAsTs(kubevirtDomain, "first load after a release");
    assert.equal(wasmKernelLoaded(), true);
  });

  test("drops the instance: the next scan has a new memory, and the answers stay the same (large and small inputs alternating)", () => {
    const seen = new Set<WebAssembly.Memory>();
    // Small after large (the new memory starts at its initial size), large after small, a
    // grown memory released, two releases in a row.
    const sequence: Array<[string, Uint8Array]> = [];
    smallInputs.forEach((entry, i) => {
      sequence.push(entry);
      if (i % 7 === 0) sequence.push(["1 MB domain", large]);
      if (i === 14) sequence.push(["5 MB domain", larger]);
    });
    for (const [i, [label, bytes]] of sequence.entries()) {
      assertSameAsTs(bytes, label);
      const memory = wasmKernelMemory();
      assert.ok(memory !== null, `${label}: the WASM kernel ran`);
      assert.ok(!seen.has(memory), `${label}: a memory not used before the last release`);
      seen.add(memory);
      assert.equal(releaseKernelMemory(), true);
      if (i % 5 === 0) assert.equal(releaseKernelMemory(), true, "released twice");
      assert.equal(wasmKernelLoaded(), false);
      assert.equal(wasmKernelMemory(), null);
    }
    assert.equal(seen.size, sequence.length);
  });

  test("leaves nothing that keeps the old memory alive (collected by the next full collection)", async () => {
    // A lending scan first, so the lending table's arrays (and wasm.ts's lent views) are views
    // onto the memory after the loan ends: they must go with the release.
    assert.ok(check(large, { kernel: "wasm" }).ok);
    assert.ok(tokenizeLent(kubevirtDomain, { kernel: "wasm" }).ok);
    releaseLentTable();
    const memory = new WeakRef(wasmKernelMemory()!);
    const buffer = new WeakRef(wasmKernelMemory()!.buffer);
    // The control: while the kernel is loaded, the same collections leave its memory alone.
    assert.equal(await collected(memory, 2), false, "the loaded kernel's memory is live");
    assert.equal(releaseKernelMemory(), true);
    assert.equal(await collected(buffer), true, "the old memory's ArrayBuffer was collected");
    assert.equal(await collected(memory), true, "the old WebAssembly.Memory was collected");
    assertSameAsTs(large, "after the collection");
    releaseKernelMemory();
  });

  test("refuses while a table is lent, which stays intact and usable; works once the loan ends", () => {
    const lent = tokenizeLent(large, { kernel: "wasm" });
    try {
      assert.ok(lent.ok && wasmTableLent(), "the WASM kernel lent its table");
      const memory = wasmKernelMemory();
      const snapshot = outcome(lent);
      assert.equal(releaseKernelMemory(), false, "refused");
      assert.equal(releaseFromIndex(), false, "refused (the library's export)");
      assert.equal(wasmKernelMemory(), memory, "the same instance");
      // What plan.ts may do while it holds the table: other scans (TS kernel meanwhile).
      assert.ok(check(kubevirtDomain, { kernel: "wasm" }).ok);
      sameOutcome(tokenize(kubevirtDomain, { kernel: "ts" }), tokenize(kubevirtDomain, { kernel: "wasm" }), "tokenize while lent");
      assert.deepEqual(outcome(lent), snapshot, "the lent table unchanged");
      sameOutcome(tokenize(large, { kernel: "ts" }), lent, "the lent table after the refused release");
    } finally {
      releaseLentTable();
    }
    assert.equal(releaseFromIndex(), true);
    assert.equal(wasmKernelLoaded(), false);
    assertSameAsTs(kubevirtDomain, "after the release");
  });

  test('"auto" uses the kept module again at once for small inputs after a release', () => {
    assert.ok(tokenize(kubevirtDomain).ok);
    assert.equal(wasmKernelLoaded(), true);
    releaseKernelMemory();
    // 8 KB is below the cold threshold (32 KiB), but the module needs no compiling.
    const auto = tokenize(kubevirtDomain);
    assert.equal(wasmKernelLoaded(), true, "the small input instantiated the kernel");
    sameOutcome(tokenize(kubevirtDomain, { kernel: "ts" }), auto, "auto after release");
    releaseKernelMemory();
    assert.ok(tokenize(encoder.encode("<a/>")).ok);
    assert.equal(wasmKernelLoaded(), false, "below 64 bytes the TS kernel still runs");
  });
});

describe("the sidecar's idle-time release (src/hooks/memory.ts)", () => {
  const idle = () => sleep(IDLE_COLLECT_MS + 80);

  test("after a large call the idle collection releases the kernel; after small calls only it does not", async () => {
    assert.ok(tokenize(kubevirtDomain, { kernel: "wasm" }).ok);
    collectAfterCall(8 * 1024);
    await idle();
    assert.equal(wasmKernelLoaded(), true, "small calls keep the kernel");
    collectAfterCall(LARGE_CALL_BYTES);
    collectAfterCall(8 * 1024);
    await idle();
    assert.equal(wasmKernelLoaded(), false, "released once idle after a large call");
    assertSameAsTs(kubevirtDomain, "after the sidecar's release");
    collectAfterCall(8 * 1024);
    await idle();
    assert.equal(wasmKernelLoaded(), true, "the large call was accounted for by the release");
  });

  test("a table lent when the idle collection runs is left alone, and the release comes at the next idle collection", async () => {
    assert.ok(tokenize(kubevirtDomain, { kernel: "wasm" }).ok);
    const lent = tokenizeLent(large, { kernel: "wasm" });
    try {
      assert.ok(lent.ok && wasmTableLent());
      collectAfterCall(LARGE_CALL_BYTES);
      await idle();
      assert.equal(wasmKernelLoaded(), true, "not released under the loan");
      sameOutcome(tokenize(large, { kernel: "ts" }), lent, "the lent table after the idle collection");
    } finally {
      releaseLentTable();
    }
    collectAfterCall(8 * 1024);
    await idle();
    assert.equal(wasmKernelLoaded(), false, "released at the next idle collection");
  });
});
