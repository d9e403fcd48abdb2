// Bad calls to a running sidecar (`domsplice serve --plugin identity` as a real child process):
// empty, non-XML, truncated, mismatched and 200,000-deep domains, bad VMI and cloud-init JSON,
// undecodable protobuf, a 20 MB message, unknown methods, callers whose deadline passes or who
// hang up mid-message. Each must be answered with the gRPC
// status code the contract names and a message a person can act on (the place, line and column,
// where the input has one: the same place the engine's check() reports), and the sidecar must
// go on serving: Info is answered after every bad call and the process is still alive.
// Also bad starts: a missing socket directory, a path a live sidecar serves on (refused, the
// live one unharmed) and a stale socket left by a killed sidecar (replaced on restart); and
// connection churn (600 calls, each on a new connection, as virt-launcher dials them).
// Node (bin/domsplice), Bun and Deno run the same list against the same source.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { check } from "../src/index.ts";
import { corpus } from "./corpus-files.ts";
import {
  callInfo,
  callMutateDomain,
  callOnDefineDomain,
  callPreCloudInitIso,
  encodeRequest,
  ensureNodeBundle,
  holdCall,
  isServiceError,
  listDirectory,
  rawCall,
  serveExpectingRefusal,
  socketScratch,
  runtimes,
  startSidecar,
  statusName,
  vmiJson,
  type SidecarProcess,
} from "./hook-manager.ts";

const utf8 = new TextEncoder();
const vmi = utf8.encode(vmiJson);
const domainXml = new Uint8Array(readFileSync(path.join(corpus, "kubevirt/domain.xml")));
const MiB = 1024 * 1024;

/** Where the engine says the document goes wrong; the server must name the same place. */
function placeOf(xml: Uint8Array): { line: number; column: number } {
  const verdict = check(xml);
  assert.equal(verdict.ok, false, "the test input is meant to be malformed");
  if (verdict.ok) throw new Error("unreachable");
  return { line: verdict.error.line, column: verdict.error.column };
}

/** "12:5" or "line 12, column 5": either way a person can find the place. */
function namesPlace(details: string, place: { line: number; column: number }): boolean {
  return details.includes(`${place.line}:${place.column}`) || new RegExp(`line ${place.line}\\b\\D{1,12}column ${place.column}\\b`).test(details);
}

interface Expected {
  readonly code: "INVALID_ARGUMENT" | "RESOURCE_EXHAUSTED" | "UNIMPLEMENTED";
  /** Every pattern must match the status message. */
  readonly says: readonly RegExp[];
  readonly place?: { line: number; column: number };
}

/** Awaits a call that must fail and checks its status. */
async function refused(call: Promise<unknown>, expected: Expected): Promise<string> {
  let failure: unknown;
  try {
    await call;
  } catch (error) {
    failure = error;
  }
  assert.ok(failure !== undefined, `expected ${expected.code}, but the call succeeded`);
  assert.ok(isServiceError(failure), `expected a gRPC status, got ${String(failure)}`);
  const details = failure.details;
  assert.equal(statusName(failure.code), expected.code, `status message: ${details}`);
  assert.ok(details.length > 0 && details.length < 600 && !details.includes("\n"), `one readable line: ${JSON.stringify(details)}`);
  for (const pattern of expected.says) assert.match(details, pattern);
  if (expected.place) assert.ok(namesPlace(details, expected.place), `names line ${expected.place.line}, column ${expected.place.column}: ${details}`);
  return details;
}

const nested = (depth: number) => utf8.encode("<a>".repeat(depth) + "</a>".repeat(depth));
const mismatched = utf8.encode('<domain type="kvm">\n  <name>testvmi</nmae>\n</domain>\n');
const truncated = domainXml.subarray(0, 4000);
const notXml = utf8.encode("OnDefineDomain: this is not XML\n");
const service = "kubevirt.hooks.v1alpha3.Callbacks";
const onDefinePath = `/${service}/OnDefineDomain`;

before(async () => {
  await ensureNodeBundle();
});

// On Deno the whole suite is todo: Deno 2.9.6's node:http2 (nghttp2) aborts the process, at
// random, when a caller closes its connection (find_stream_on_goaway_func; cf. denoland/deno#36788,
// and the churn test below). One sidecar serves the suite's ~30 calls, and on 11-29 it died in 2
// of 17 runs of this file (after the 15 MiB answer, once after the 1.4 MB nesting call), 6 of 12
// with the 15 MiB call made first, taking every later test down with it; never on Node or Bun.
// The tests still run and report on Deno; a crash there does not fail the run.
const denoAbortsTodo = "Deno 2.9.6 aborts in nghttp2 (find_stream_on_goaway_func) at random after a caller closes its connection; cf. denoland/deno#36788";
for (const runtime of runtimes) {
  describe(`${runtime}: bad calls are refused and the sidecar goes on serving`, () => {
    // (A suite's own todo does not reach its tests in Node 20: each test is marked.)
    const todo = runtime === "deno" ? denoAbortsTodo : false;
    let sidecar: SidecarProcess;
    before(async () => {
      sidecar = await startSidecar(runtime);
    });
    after(async () => {
      await sidecar?.stop();
    });

    /** Info is still answered and the process still runs. */
    async function stillServing(): Promise<void> {
      const info = await callInfo(sidecar.socket);
      assert.equal(info.name, "domsplice");
      assert.ok(sidecar.alive(), `${runtime} exited; stderr:\n${sidecar.stderr()}`);
    }

    test("an empty domain: INVALID_ARGUMENT saying it is empty", { todo }, async () => {
      await refused(callOnDefineDomain(sidecar.socket, "v1alpha3", new Uint8Array(), vmi), { code: "INVALID_ARGUMENT", says: [/empty/i, /domain/i] });
      await stillServing();
    });

    test("a domain that is not XML: INVALID_ARGUMENT naming line:col", { todo }, async () => {
      await refused(callOnDefineDomain(sidecar.socket, "v1alpha3", notXml, vmi), { code: "INVALID_ARGUMENT", says: [/domain/i], place: placeOf(notXml) });
      await stillServing();
    });

    test("a truncated domain: INVALID_ARGUMENT naming line:col where it ends", { todo }, async () => {
      await refused(callOnDefineDomain(sidecar.socket, "v1alpha2", truncated, vmi), { code: "INVALID_ARGUMENT", says: [/domain/i], place: placeOf(truncated) });
      await stillServing();
    });

    test("mismatched tags: INVALID_ARGUMENT naming line:col and the tag", { todo }, async () => {
      await refused(callOnDefineDomain(sidecar.socket, "v1alpha1", mismatched, vmi), { code: "INVALID_ARGUMENT", says: [/domain/i, /name/], place: placeOf(mismatched) });
      await stillServing();
    });

    test("200,000-deep nesting: INVALID_ARGUMENT naming the depth limit and where it was passed", { todo }, async () => {
      const deep = nested(200_000);
      await refused(callOnDefineDomain(sidecar.socket, "v1alpha3", deep, vmi), { code: "INVALID_ARGUMENT", says: [/depth|deep|nest/i], place: placeOf(deep) });
      await stillServing();
    });

    test("the Plugin API checks the domain the same way: MutateDomain with mismatched tags", { todo }, async () => {
      await refused(callMutateDomain(sidecar.pluginSocket, { domain: mismatched, vmi, invocationContext: "Boot" }), {
        code: "INVALID_ARGUMENT",
        says: [/domain/i],
        place: placeOf(mismatched),
      });
      await stillServing();
    });

    test("MutateDomain with an invocation context KubeVirt does not send: INVALID_ARGUMENT listing the ones it does", { todo }, async () => {
      const message = encodeRequest("kubevirt.hooks.plugins.v1alpha1.DomainHookService", "MutateDomain", {
        domainType: "libvirt",
        domain: domainXml,
        vmi,
        sidecarContext: { invocationContext: "Reboot" },
      });
      await refused(rawCall(sidecar.pluginSocket, "/kubevirt.hooks.plugins.v1alpha1.DomainHookService/MutateDomain", message), {
        code: "INVALID_ARGUMENT",
        says: [/Reboot/, /Boot/, /MigrationSource/, /MigrationTarget/],
      });
      await stillServing();
    });

    test("bad VMI JSON: INVALID_ARGUMENT naming the VMI and line:col", { todo }, async () => {
      const badVmi = utf8.encode('{\n  "kind": "VirtualMachineInstance",\n  "spec": {domain: {}}\n}\n');
      await refused(callOnDefineDomain(sidecar.socket, "v1alpha3", domainXml, badVmi), { code: "INVALID_ARGUMENT", says: [/VMI/, /JSON/], place: { line: 3, column: 12 } });
      await refused(callOnDefineDomain(sidecar.socket, "v1alpha3", domainXml, utf8.encode("[]")), { code: "INVALID_ARGUMENT", says: [/VMI/, /array/] });
      await stillServing();
    });

    test("bad cloud-init JSON in PreCloudInitIso: INVALID_ARGUMENT naming cloudInitData", { todo }, async () => {
      const params = { cloudInitData: utf8.encode('{"UserData": '), cloudInitNoCloudSource: utf8.encode("{}"), vmi };
      await refused(callPreCloudInitIso(sidecar.socket, "v1alpha3", params), { code: "INVALID_ARGUMENT", says: [/cloudInitData/] });
      await stillServing();
    });

    test("undecodable protobuf: INVALID_ARGUMENT naming the message and the byte offset", { todo }, async () => {
      const undecodable: [string, number[]][] = [
        ["a length running past the end", [0x0a, 0x10, 0x3c, 0x64]],
        ["wire type 7", [0x0f, 0x01]],
        ["a varint longer than 10 bytes", [0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
        ["field number 0", [0x02, 0x00]],
      ];
      for (const [what, bytes] of undecodable) {
        const details = await refused(rawCall(sidecar.socket, onDefinePath, new Uint8Array(bytes)), { code: "INVALID_ARGUMENT", says: [/OnDefineDomainParams/, /offset|byte/i] });
        assert.ok(details.length > 0, what);
      }
      await stillServing();
    });

    test("a 20 MB message: RESOURCE_EXHAUSTED naming the 16 MiB limit", { todo }, async () => {
      const huge = encodeRequest(service, "OnDefineDomain", { domainXML: new Uint8Array(20_000_000).fill(0x20), vmi });
      await refused(rawCall(sidecar.socket, onDefinePath, huge), { code: "RESOURCE_EXHAUSTED", says: [/16777216|16 MiB/] });
      await stillServing();
    });

    test("a 15 MiB domain is within the limit and comes back byte-identical", { todo }, async () => {
      // A <description> before <name> grows KubeVirt's domain to exactly 15 MiB.
      const source = new TextDecoder().decode(domainXml);
      const fillerLength = 15 * MiB - source.length - "<description></description>\n  ".length;
      const filler = "Go MarshalIndent output padded to 15 MiB. ".repeat(Math.ceil(fillerLength / 42)).slice(0, fillerLength);
      const whole = utf8.encode(source.replace("<name>", `<description>${filler}</description>\n  <name>`));
      assert.equal(whole.length, 15 * MiB);
      const reply = await callOnDefineDomain(sidecar.socket, "v1alpha3", whole, vmi);
      assert.equal(Buffer.compare(Buffer.from(reply), Buffer.from(whole)), 0, "byte-identical");
      await stillServing();
    });

    test("callers that give up: a deadline that passes, a connection dropped mid-message", { todo }, async () => {
      // A deadline (grpc-timeout 50 ms) that passes while half the request is still to come.
      const late = await holdCall(sidecar.socket, onDefinePath, encodeRequest(service, "OnDefineDomain", { domainXML: domainXml, vmi }), { "grpc-timeout": "50m" });
      const answer = await late.reply;
      assert.equal(statusName(answer.grpcStatus), "DEADLINE_EXCEEDED", answer.grpcMessage);
      late.hangUp();
      const held = await holdCall(sidecar.socket, onDefinePath, encodeRequest(service, "OnDefineDomain", { domainXML: domainXml, vmi }));
      held.hangUp();
      await held.reply.catch(() => undefined);
      await stillServing();
      const reply = await callOnDefineDomain(sidecar.socket, "v1alpha3", domainXml, vmi);
      assert.equal(Buffer.compare(Buffer.from(reply), Buffer.from(domainXml)), 0);
    });

    test("methods the sidecar does not serve: UNIMPLEMENTED, on each socket", { todo }, async () => {
      await refused(rawCall(sidecar.socket, "/kubevirt.hooks.v1alpha4.Callbacks/OnDefineDomain", new Uint8Array()), { code: "UNIMPLEMENTED", says: [/./] });
      // The Plugin API lives on its own socket, the legacy API on the other.
      await refused(rawCall(sidecar.socket, "/kubevirt.hooks.plugins.v1alpha1.DomainHookService/MutateDomain", new Uint8Array()), { code: "UNIMPLEMENTED", says: [/./] });
      await refused(rawCall(sidecar.pluginSocket, onDefinePath, new Uint8Array()), { code: "UNIMPLEMENTED", says: [/./] });
      await stillServing();
    });

    test("after all that the process still runs, and each refused call was logged as one error line with its code", { todo }, () => {
      assert.ok(sidecar.alive(), sidecar.stderr());
      const errors = sidecar.logs.filter((line) => line.level === "error");
      assert.ok(errors.length >= 12, `error lines: ${errors.length}\n${sidecar.stderr()}`);
      for (const line of errors) {
        assert.equal(typeof line.msg, "string");
        assert.equal(typeof line.method, "string", JSON.stringify(line));
        assert.match(String(line.code), /^[A-Z_]+$/, JSON.stringify(line));
      }
    });

    test("calls grpc-js ends before any handler runs (over 16 MiB, unknown method, a deadline passed, a caller gone) are logged too: one error line each, naming the method and the reason", { todo }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 100)); // let the last stderr lines arrive
      const errors = sidecar.logs.filter((line) => line.level === "error");
      const withCode = (code: string) => errors.filter((line) => line.code === code);
      const codes = errors.map((line) => String(line.code)).join(", ");
      assert.ok(
        withCode("RESOURCE_EXHAUSTED").some((line) => line.method === onDefinePath.slice(1) && /16777216/.test(String(line.msg))),
        `RESOURCE_EXHAUSTED for the 20 MB OnDefineDomain, naming the limit; codes logged: ${codes}`,
      );
      // The three unknown-method calls above, each once.
      assert.deepEqual(
        withCode("UNIMPLEMENTED").map((line) => line.method).sort(),
        ["kubevirt.hooks.plugins.v1alpha1.DomainHookService/MutateDomain", onDefinePath.slice(1), "kubevirt.hooks.v1alpha4.Callbacks/OnDefineDomain"].sort(),
        sidecar.stderr(),
      );
      assert.ok(withCode("DEADLINE_EXCEEDED").some((line) => line.method === onDefinePath.slice(1)), `DEADLINE_EXCEEDED; codes logged: ${codes}`);
      // Calls that reached the handler are logged by it alone, never a second time from here.
      const fromWatch = errors.filter((line) => /before (it )?reach/.test(String(line.msg)));
      assert.ok(fromWatch.every((line) => ["RESOURCE_EXHAUSTED", "UNIMPLEMENTED", "DEADLINE_EXCEEDED", "CANCELLED"].includes(String(line.code))), JSON.stringify(fromWatch));
      for (const line of fromWatch) assert.equal(typeof line.durationMs, "number", JSON.stringify(line));
    });
  });
}

for (const runtime of runtimes) {
  describe(`${runtime}: socket paths at start`, () => {
    /** exit 2 and exactly one line on stderr that names `path`. */
    function refusedStart(run: { status: number | null; stderr: string }, path: string): void {
      assert.equal(run.status, 2, `exit status; stderr:\n${run.stderr}`);
      assert.match(run.stderr, /^[^\n]+\n$/, `one line on stderr: ${JSON.stringify(run.stderr)}`);
      assert.ok(run.stderr.includes(path), `names ${path}: ${run.stderr}`);
    }

    test("a socket directory that does not exist: exit 2 with one line naming it, nothing left behind", () => {
      const scratch = socketScratch(runtime);
      try {
        const missing = path.join(scratch.dir, "absent", "domsplice.sock");
        refusedStart(serveExpectingRefusal(runtime, missing, scratch.pluginSocket), path.dirname(missing));
        assert.deepEqual(listDirectory(path.dirname(scratch.pluginSocket)), [], "no plugin socket left behind");
      } finally {
        rmSync(scratch.dir, { recursive: true, force: true });
      }
    });

    test("a path a live sidecar serves on: exit 2 naming it, and the live sidecar keeps its sockets and serving", async () => {
      const live = await startSidecar(runtime);
      try {
        refusedStart(serveExpectingRefusal(runtime, live.socket, live.pluginSocket), live.socket);
        assert.deepEqual(listDirectory(path.dirname(live.socket)), ["domsplice.sock"]);
        assert.deepEqual(listDirectory(path.dirname(live.pluginSocket)), ["domsplice.sock"]);
        assert.equal((await callInfo(live.socket)).name, "domsplice");
        const reply = await callMutateDomain(live.pluginSocket, { domain: domainXml, vmi, invocationContext: "Boot" });
        assert.equal(Buffer.compare(Buffer.from(reply), Buffer.from(domainXml)), 0);
        assert.ok(live.alive());
      } finally {
        await live.stop();
      }
    });

    test("a stale socket from a killed sidecar is replaced: the restarted container serves on the same paths", async () => {
      const killed = await startSidecar(runtime);
      try {
        killed.child.kill("SIGKILL");
        await killed.exited;
        assert.deepEqual(listDirectory(path.dirname(killed.socket)), ["domsplice.sock"], "SIGKILL leaves the socket file behind");
        const restarted = await startSidecar(runtime, [], { reuse: killed });
        try {
          assert.equal((await callInfo(restarted.socket)).name, "domsplice");
          const reply = await callMutateDomain(restarted.pluginSocket, { domain: domainXml, vmi, invocationContext: "Boot" });
          assert.equal(Buffer.compare(Buffer.from(reply), Buffer.from(domainXml)), 0);
        } finally {
          await restarted.stop();
        }
      } finally {
        await killed.stop();
      }
    });
  });
}

// virt-launcher dials a new connection for every call, and a sidecar lives as long as its VM:
// the connections add up. Deno 2.9.6's node:http2 (nghttp2) aborts the process after some
// hundreds of them (assertion in find_stream_on_goaway_func, measured at ~70-600 calls; a plain
// node:http2 server under Deno does the same, cf. denoland/deno#36788): kept visible as a todo
// until Deno is fixed or the server works around it.
const churnCalls = 600;
for (const runtime of runtimes) {
  const todo = runtime === "deno" ? "Deno 2.9.6 aborts in nghttp2 (find_stream_on_goaway_func) after ~70-600 new connections; cf. denoland/deno#36788" : false;
  describe(`${runtime}: connection churn`, () => {
    test(`${churnCalls} calls one after another, each on a new connection: all answered, the sidecar still serving`, { todo }, async () => {
      const sidecar = await startSidecar(runtime);
      try {
        for (let call = 0; call < churnCalls; call++) {
          try {
            await callOnDefineDomain(sidecar.socket, "v1alpha3", domainXml, vmi);
          } catch (error) {
            await new Promise((resolve) => setTimeout(resolve, 200));
            const lastLines = sidecar.stderr().split("\n").filter((line) => !line.includes('"call answered"')).slice(-3).join("\n");
            assert.fail(`call ${call + 1} of ${churnCalls} failed (${String(error)}); sidecar alive: ${sidecar.alive()}; stderr ends:\n${lastLines}`);
          }
        }
        assert.equal((await callInfo(sidecar.socket)).name, "domsplice");
        assert.ok(sidecar.alive());
      } finally {
        await sidecar.stop();
      }
    });
  });
}
