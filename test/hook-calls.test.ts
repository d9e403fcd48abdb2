// The one call path of the hook server and `domsplice hook` (src/hooks/calls.ts), in process:
// what plugins get, how their outputs chain, and every input or plugin failure answered as a
// HookCallError with the right gRPC code and a message naming the place or the plugin. The
// test plugins are real plugins (plain objects of the plugin interface) that edit through the
// engine. The sidecar on real sockets is test/hook-server.test.ts and test/hook-errors.test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { patch } from "../src/index.ts";
import { HookCallError, StatusCode } from "../src/hooks/call-error.ts";
import {
  answerExecuteNodeHook,
  answerMutateDomain,
  answerOnDefineDomain,
  answerPreCloudInitIso,
  defineDomain,
  prepareCloudInit,
  subscribedHookPoints,
  type HookSetup,
} from "../src/hooks/calls.ts";
import {
  ExecuteNodeHookRequestCodec,
  MutateDomainRequestCodec,
  MutateDomainResponseCodec,
  OnDefineDomainParamsCodec,
  OnDefineDomainResultCodec,
  PreCloudInitIsoParamsCodec,
  PreCloudInitIsoResultCodec,
} from "../src/hooks/codec.ts";
import { identityPlugin } from "../src/plugins/identity.ts";
import { knownPluginNames, loadPlugins, UnknownPluginError } from "../src/plugins/registry.ts";
import { PluginError, type DomainHookContext, type Plugin } from "../src/plugins/types.ts";
import { corpus } from "./corpus-files.ts";
import { cloudInitData as cloudInitDataObject, vmiJson as vmiJsonText } from "./hook-manager.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const domainXml = readFileSync(path.join(corpus, "kubevirt", "domain.xml"));
const vmiJson = encoder.encode(vmiJsonText);
const env = Object.freeze({ NETWORK_BINDING_PLUGIN_NAME: "domsplice", CONTAINER_NAME: "hook-sidecar-0" });
const setupOf = (...plugins: Plugin[]): HookSetup => ({ plugins, env });

function expectError(outcome: unknown, code: number, pattern: RegExp): HookCallError {
  assert.ok(outcome instanceof HookCallError, `expected a HookCallError, got ${JSON.stringify(outcome)}`);
  assert.equal(outcome.code, code, `code of: ${outcome.message}`);
  assert.match(outcome.message, pattern);
  return outcome;
}

function ok<T>(outcome: T | HookCallError): T {
  if (outcome instanceof HookCallError) assert.fail(`unexpected ${outcome}`);
  return outcome;
}

/** A plugin that sets /domain/@NAME-ran="yes" through the engine and records its turn. */
function stampingPlugin(name: string, turns: string[]): Plugin {
  return {
    name,
    hookPoints: ["OnDefineDomain"],
    onDefineDomain(context) {
      turns.push(name);
      return patch(context.domainXml, [{ op: "set", path: `/domain/@${name}-ran`, value: "yes" }]) as Uint8Array;
    },
  };
}

function failingPlugin(name: string, error: unknown): Plugin {
  return {
    name,
    hookPoints: ["OnDefineDomain", "PreCloudInitIso"],
    onDefineDomain() {
      throw error;
    },
    async preCloudInitIso() {
      throw error;
    },
  };
}

describe("OnDefineDomain / MutateDomain path", () => {
  test("identity hands back the very bytes of every KubeVirt corpus domain", async () => {
    for (const file of ["domain.xml", "domain_x86_64.xml", "domain_arm64.xml", "domain_s390x.xml", "migration_domain.xml"]) {
      const input = readFileSync(path.join(corpus, "kubevirt", file));
      const outcome = ok(await defineDomain(setupOf(identityPlugin), { domainXml: input, vmiJson }));
      assert.deepEqual(Buffer.from(outcome.domainXml), input, file);
      assert.deepEqual(outcome.plugins, ["identity"]);
    }
  });

  test("a plugin gets the domain bytes, the parsed VMI, the VMI JSON as sent, env, and no invocation context on the legacy API", async () => {
    const seen: DomainHookContext[] = [];
    const recorder: Plugin = { name: "recorder", hookPoints: ["OnDefineDomain"], onDefineDomain: (context) => (seen.push(context), context.domainXml) };
    ok(await defineDomain(setupOf(recorder), { domainXml, vmiJson }));
    assert.equal(seen.length, 1);
    const [context] = seen;
    assert.equal(context.domainXml, domainXml);
    assert.equal(context.vmiJson, vmiJson);
    assert.equal(context.vmi.metadata?.name, "testvmi");
    assert.equal(context.vmi.spec?.domain?.devices?.interfaces?.[0]?.name, "default");
    assert.equal(context.vmi.status?.interfaces?.[0]?.podInterfaceName, "eth0");
    assert.deepEqual(context.env, env);
    assert.equal(context.invocationContext, undefined);
  });

  test("plugins run in the order chosen, each getting the previous one's output; the VMI is parsed once for all", async () => {
    const turns: string[] = [];
    const vmis: unknown[] = [];
    const first = stampingPlugin("first", turns);
    const second: Plugin = {
      name: "second",
      hookPoints: ["OnDefineDomain"],
      onDefineDomain(context) {
        turns.push("second");
        vmis.push(context.vmi);
        assert.match(decoder.decode(context.domainXml), /^<domain [^>]*first-ran="yes"/, "second sees first's output");
        return patch(context.domainXml, [{ op: "set", path: "/domain/@second-ran", value: "yes" }]) as Uint8Array;
      },
    };
    const third: Plugin = { name: "third", hookPoints: ["OnDefineDomain"], onDefineDomain: async (context) => (vmis.push(context.vmi), context.domainXml) };
    const outcome = ok(await defineDomain(setupOf(first, second, third), { domainXml, vmiJson }));
    assert.deepEqual(turns, ["first", "second"]);
    assert.deepEqual(outcome.plugins, ["first", "second", "third"]);
    assert.equal(vmis[0], vmis[1], "one parsed VMI object for every plugin of the call");
    const text = decoder.decode(outcome.domainXml);
    assert.match(text, /^<domain type="qemu" xmlns:qemu="[^"]+" first-ran="yes" second-ran="yes">/);
    // Everything but the stamped start tag is the input's bytes.
    assert.equal(text.slice(text.indexOf("\n")), decoder.decode(domainXml).slice(decoder.decode(domainXml).indexOf("\n")));
  });

  test("plugins that do not subscribe to OnDefineDomain are not called for it", async () => {
    let called = false;
    const cloudOnly: Plugin = { name: "cloud-only", hookPoints: ["PreCloudInitIso"], onDefineDomain: (context) => ((called = true), context.domainXml) };
    const outcome = ok(await defineDomain(setupOf(cloudOnly), { domainXml, vmiJson }));
    assert.equal(called, false);
    assert.deepEqual(outcome.plugins, []);
    assert.equal(outcome.domainXml, domainXml);
  });

  test("an empty domain is INVALID_ARGUMENT 'empty domain XML'", async () => {
    expectError(await defineDomain(setupOf(identityPlugin), { domainXml: new Uint8Array(0), vmiJson }), StatusCode.INVALID_ARGUMENT, /^empty domain XML$/);
  });

  test("malformed domains are INVALID_ARGUMENT naming line and column and what is wrong, before any plugin runs", async () => {
    const turns: string[] = [];
    const cases: [string, RegExp][] = [
      ["<domain>\n  <name>x</name>\n", /^malformed domain XML at line 3, column 1: end of input before the end tag of an open element/],
      ["<domain>\n  <name>x</nam>\n</domain>", /^malformed domain XML at line 2, column 10: end tag does not match the open start tag/],
      ["not xml at all", /^malformed domain XML at line 1, column 1: /],
      ['<domain type="kvm" type="qemu"/>', /^malformed domain XML at line 1, column 20: duplicate attribute/],
      ["<domain/>\n<domain/>", /^malformed domain XML at line 2, column 1: content after the root element/],
    ];
    for (const [xml, pattern] of cases) {
      expectError(await defineDomain(setupOf(stampingPlugin("stamp", turns)), { domainXml: encoder.encode(xml), vmiJson }), StatusCode.INVALID_ARGUMENT, pattern);
    }
    assert.deepEqual(turns, []);
  });

  test("nesting beyond the engine's depth limit (1024) is INVALID_ARGUMENT, not a crash", async () => {
    const depth = 200_000;
    const deep = encoder.encode("<a>".repeat(depth) + "</a>".repeat(depth));
    expectError(await defineDomain(setupOf(identityPlugin), { domainXml: deep, vmiJson }), StatusCode.INVALID_ARGUMENT, /^malformed domain XML at line 1, column \d+: element nesting deeper than the depth limit/);
  });

  test("bad VMI JSON is INVALID_ARGUMENT naming line and column", async () => {
    const cases: [string, RegExp][] = [
      ['{\n  "kind": "VirtualMachineInstance",\n  "spec": x\n}', /^invalid VMI JSON at line 3, column 11: unexpected "x", expected a JSON value$/],
      ['{"kind": "VirtualMachineInstance"', /^invalid VMI JSON at line 1, column 34: unexpected end of input, expected ',' or '}'$/],
      ['{"a": 1,}', /^invalid VMI JSON at line 1, column 9: unexpected "}", expected a property name in double quotes$/],
      ["", /^empty VMI JSON/],
      ["[1, 2]", /^VMI JSON is an array; expected a VirtualMachineInstance object$/],
      ["null", /^VMI JSON is null; expected a VirtualMachineInstance object$/],
    ];
    for (const [json, pattern] of cases) {
      expectError(await defineDomain(setupOf(identityPlugin), { domainXml, vmiJson: encoder.encode(json) }), StatusCode.INVALID_ARGUMENT, pattern);
    }
    expectError(await defineDomain(setupOf(identityPlugin), { domainXml, vmiJson: Uint8Array.of(0x7b, 0xff, 0x7d) }), StatusCode.INVALID_ARGUMENT, /^invalid VMI JSON: not UTF-8 text$/);
  });

  test("a PluginError is FAILED_PRECONDITION 'plugin NAME: reason' and stops the chain", async () => {
    const turns: string[] = [];
    const refusing = failingPlugin("refuser", new PluginError("interface 'default' has no binding named 'passt'"));
    const error = expectError(
      await defineDomain(setupOf(refusing, stampingPlugin("after", turns)), { domainXml, vmiJson }),
      StatusCode.FAILED_PRECONDITION,
      /^plugin refuser: interface 'default' has no binding named 'passt'$/,
    );
    assert.equal(error.plugin, "refuser");
    assert.deepEqual(turns, []);
  });

  test("any other throw is INTERNAL 'plugin NAME failed: reason'", async () => {
    expectError(await defineDomain(setupOf(failingPlugin("buggy", new TypeError("x.y is undefined"))), { domainXml, vmiJson }), StatusCode.INTERNAL, /^plugin buggy failed: x\.y is undefined$/);
    expectError(await defineDomain(setupOf(failingPlugin("thrower", "a string")), { domainXml, vmiJson }), StatusCode.INTERNAL, /^plugin thrower failed: a string$/);
  });

  test("a plugin that returns malformed XML or no bytes is INTERNAL naming it, so nothing broken reaches libvirt", async () => {
    const breaking: Plugin = { name: "breaker", hookPoints: ["OnDefineDomain"], onDefineDomain: () => encoder.encode("<domain>\n<name>x</domain>") };
    expectError(await defineDomain(setupOf(breaking), { domainXml, vmiJson }), StatusCode.INTERNAL, /^plugin breaker failed: it returned malformed domain XML at line 2, column \d+: end tag does not match/);
    const stringy = { name: "stringy", hookPoints: ["OnDefineDomain"], onDefineDomain: () => "<domain/>" } as unknown as Plugin;
    expectError(await defineDomain(setupOf(stringy), { domainXml, vmiJson }), StatusCode.INTERNAL, /^plugin stringy failed: it returned a string instead of the domain XML bytes$/);
    const emptying: Plugin = { name: "emptier", hookPoints: ["OnDefineDomain"], onDefineDomain: () => new Uint8Array(0) };
    expectError(await defineDomain(setupOf(emptying), { domainXml, vmiJson }), StatusCode.INTERNAL, /^plugin emptier failed: it returned an empty domain XML$/);
  });
});

describe("PreCloudInitIso path", () => {
  const cloudInitData = encoder.encode(JSON.stringify(cloudInitDataObject));
  const cloudInitNoCloudSource = encoder.encode(JSON.stringify({ userData: cloudInitDataObject.UserData }));

  test("identity hands back cloudInitData and cloudInitNoCloudSource unchanged", async () => {
    const outcome = ok(await prepareCloudInit(setupOf(identityPlugin), { cloudInitData, cloudInitNoCloudSource, vmiJson }));
    assert.equal(outcome.cloudInitData, cloudInitData);
    assert.equal(outcome.cloudInitNoCloudSource, cloudInitNoCloudSource);
    assert.deepEqual(outcome.plugins, ["identity"]);
  });

  test("plugins chain both fields in order", async () => {
    const appending = (name: string): Plugin => ({
      name,
      hookPoints: ["PreCloudInitIso"],
      preCloudInitIso(context) {
        const data = JSON.parse(decoder.decode(context.cloudInitData));
        data.UserData += `# ${name}\n`;
        return { cloudInitData: encoder.encode(JSON.stringify(data)), cloudInitNoCloudSource: context.cloudInitNoCloudSource };
      },
    });
    const outcome = ok(await prepareCloudInit(setupOf(appending("one"), identityPlugin, appending("two")), { cloudInitData, cloudInitNoCloudSource, vmiJson }));
    assert.equal(JSON.parse(decoder.decode(outcome.cloudInitData)).UserData, `${cloudInitDataObject.UserData}# one\n# two\n`);
    assert.equal(outcome.cloudInitNoCloudSource, cloudInitNoCloudSource);
    assert.deepEqual(outcome.plugins, ["one", "identity", "two"]);
  });

  test("bad cloud-init JSON or VMI JSON is INVALID_ARGUMENT; a plugin's failure names the plugin", async () => {
    expectError(await prepareCloudInit(setupOf(identityPlugin), { cloudInitData: encoder.encode('{"UserData": }'), cloudInitNoCloudSource, vmiJson }), StatusCode.INVALID_ARGUMENT, /^invalid cloudInitData JSON at line 1, column 14: /);
    expectError(await prepareCloudInit(setupOf(identityPlugin), { cloudInitData, cloudInitNoCloudSource: encoder.encode("{"), vmiJson }), StatusCode.INVALID_ARGUMENT, /^invalid cloudInitNoCloudSource JSON at line 1, column 2: /);
    expectError(await prepareCloudInit(setupOf(identityPlugin), { cloudInitData, cloudInitNoCloudSource, vmiJson: encoder.encode("{") }), StatusCode.INVALID_ARGUMENT, /^invalid VMI JSON/);
    expectError(await prepareCloudInit(setupOf(failingPlugin("cloudy", new PluginError("no user data"))), { cloudInitData, cloudInitNoCloudSource, vmiJson }), StatusCode.FAILED_PRECONDITION, /^plugin cloudy: no user data$/);
    const shapeless = { name: "shapeless", hookPoints: ["PreCloudInitIso"], preCloudInitIso: () => ({ cloudInitData }) } as unknown as Plugin;
    expectError(await prepareCloudInit(setupOf(shapeless), { cloudInitData, cloudInitNoCloudSource, vmiJson }), StatusCode.INTERNAL, /^plugin shapeless failed: it returned an object instead of \{ cloudInitNoCloudSource, cloudInitData \} bytes$/);
  });

  test("a caller that sends no cloud-init data at all gets empty fields back", async () => {
    const empty = new Uint8Array(0);
    const outcome = ok(await prepareCloudInit(setupOf(identityPlugin), { cloudInitData: empty, cloudInitNoCloudSource: empty, vmiJson }));
    assert.equal(outcome.cloudInitData.length, 0);
    assert.equal(outcome.cloudInitNoCloudSource.length, 0);
  });
});

describe("the gRPC messages around the path", () => {
  test("OnDefineDomain: decode, run, encode; undecodable bytes are INVALID_ARGUMENT naming the message", async () => {
    const answer = ok(await answerOnDefineDomain(setupOf(identityPlugin), OnDefineDomainParamsCodec.encode({ domainXML: domainXml, vmi: vmiJson })));
    assert.deepEqual(Buffer.from(OnDefineDomainResultCodec.decode(answer.response).domainXML), domainXml);
    expectError(await answerOnDefineDomain(setupOf(identityPlugin), Uint8Array.of(0x0a, 0x05, 0x3c)), StatusCode.INVALID_ARGUMENT, /^undecodable OnDefineDomainParams message: malformed protobuf/);
  });

  test("PreCloudInitIso: both fields come back", async () => {
    const request = PreCloudInitIsoParamsCodec.encode({ cloudInitData: encoder.encode('{"UserData":"u"}'), cloudInitNoCloudSource: encoder.encode('{"userData":"u"}'), vmi: vmiJson });
    const result = PreCloudInitIsoResultCodec.decode(ok(await answerPreCloudInitIso(setupOf(identityPlugin), request)).response);
    assert.equal(decoder.decode(result.cloudInitData), '{"UserData":"u"}');
    assert.equal(decoder.decode(result.cloudInitNoCloudSource), '{"userData":"u"}');
  });

  test("MutateDomain hands plugins the invocation context, for each of Boot, MigrationSource, MigrationTarget", async () => {
    for (const invocationContext of ["Boot", "MigrationSource", "MigrationTarget"]) {
      let seen: string | undefined;
      const recorder: Plugin = { name: "recorder", hookPoints: ["OnDefineDomain"], onDefineDomain: (context) => ((seen = context.invocationContext), context.domainXml) };
      const request = MutateDomainRequestCodec.encode({ domainType: "libvirt", domain: domainXml, vmi: vmiJson, sidecarContext: { invocationContext } });
      const answer = ok(await answerMutateDomain(setupOf(recorder), request));
      assert.equal(seen, invocationContext);
      assert.deepEqual(Buffer.from(MutateDomainResponseCodec.decode(answer.response).domain), domainXml);
    }
  });

  test("MutateDomain refuses an unknown or missing invocation context and a domain type other than libvirt", async () => {
    const call = (request: Parameters<typeof MutateDomainRequestCodec.encode>[0]) => answerMutateDomain(setupOf(identityPlugin), MutateDomainRequestCodec.encode(request));
    expectError(await call({ domainType: "libvirt", domain: domainXml, vmi: vmiJson, sidecarContext: { invocationContext: "Reboot" } }), StatusCode.INVALID_ARGUMENT, /^unknown sidecar_context\.invocation_context "Reboot"; expected one of Boot, MigrationSource, MigrationTarget$/);
    expectError(await call({ domainType: "libvirt", domain: domainXml, vmi: vmiJson }), StatusCode.INVALID_ARGUMENT, /^missing sidecar_context\.invocation_context; expected one of Boot, MigrationSource, MigrationTarget$/);
    expectError(await call({ domainType: "xen", domain: domainXml, vmi: vmiJson, sidecarContext: { invocationContext: "Boot" } }), StatusCode.INVALID_ARGUMENT, /^unsupported domain_type "xen": domsplice mutates "libvirt" domains only$/);
  });

  test("ExecuteNodeHook is acknowledged with the empty response (no plugin handles node hooks yet)", async () => {
    const request = ExecuteNodeHookRequestCodec.encode({ hookPoint: "PreVMStart", vmi: vmiJson, nodeContext: { nodeName: "node01" } });
    const answer = ok(await answerExecuteNodeHook(setupOf(identityPlugin), request));
    assert.equal(answer.response.length, 0);
  });
});

describe("plugins and hook points", () => {
  test("Info's hook points are those the chosen plugins subscribe to, each once", () => {
    assert.deepEqual(subscribedHookPoints([identityPlugin]), ["OnDefineDomain", "PreCloudInitIso"]);
    assert.deepEqual(subscribedHookPoints([stampingPlugin("a", []), stampingPlugin("b", [])]), ["OnDefineDomain"]);
    assert.deepEqual(subscribedHookPoints([]), []);
  });

  test("the registry loads plugins by name in the order given and names the known ones for an unknown name", async () => {
    assert.ok(knownPluginNames().includes("identity"));
    const [plugin] = await loadPlugins(["identity"]);
    assert.equal(plugin, identityPlugin);
    await assert.rejects(loadPlugins(["identity", "pasta"]), (error: unknown) => error instanceof UnknownPluginError && error.message === `unknown plugin 'pasta' (known plugins: ${knownPluginNames().join(", ")})`);
    await assert.rejects(loadPlugins(["toString"]), UnknownPluginError);
  });
});
