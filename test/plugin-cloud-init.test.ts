// The cloud-init plugin: a JSON merge patch (RFC 7386) from the VMI annotation
// domsplice.io/cloud-init-patch applied to KubeVirt's CloudInitData on PreCloudInitIso, the
// legacy CloudInitNoCloudSource kept in step, refusals with the place of the error. Calls go
// through calls.ts (the path serve and hook share) and are read back the way virt-launcher
// reads the answer (test/hook-manager.ts cloudInitDataFromResult).
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { HookCallError, StatusCode } from "../src/hooks/call-error.ts";
import { prepareCloudInit, type CloudInitOutcome } from "../src/hooks/calls.ts";
import { cloudInitPlugin, CLOUD_INIT_PATCH_ANNOTATION } from "../src/plugins/cloud-init.ts";
import { applyMergePatch, type JsonValue } from "../src/plugins/json-merge-patch.ts";
import { loadPlugins } from "../src/plugins/registry.ts";
import { cloudInitData, cloudInitDataFromResult, ensureNodeBundle, repoRoot, vmiJson, type CloudInitData } from "./hook-manager.ts";

const encode = (value: string) => new TextEncoder().encode(value);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

// ---------------------------------------------------------------------------------------------
// RFC 7386 itself

describe("applyMergePatch follows RFC 7386", () => {
  // Appendix A of the RFC, every row, then the cases the cloud-init plugin leans on.
  const cases: readonly { name: string; target: JsonValue; patch: JsonValue; result: JsonValue }[] = [
    { name: "a member is replaced", target: { a: "b" }, patch: { a: "c" }, result: { a: "c" } },
    { name: "a member is added", target: { a: "b" }, patch: { b: "c" }, result: { a: "b", b: "c" } },
    { name: "null deletes a member", target: { a: "b" }, patch: { a: null }, result: {} },
    { name: "null deletes one member and keeps the others", target: { a: "b", b: "c" }, patch: { a: null }, result: { b: "c" } },
    { name: "an array member is replaced by a string", target: { a: ["b"] }, patch: { a: "c" }, result: { a: "c" } },
    { name: "a string member is replaced by an array", target: { a: "c" }, patch: { a: ["b"] }, result: { a: ["b"] } },
    { name: "nested objects merge, null deletes inside", target: { a: { b: "c" } }, patch: { a: { b: "d", c: null } }, result: { a: { b: "d" } } },
    { name: "arrays are replaced, never merged", target: { a: [{ b: "c" }] }, patch: { a: [1] }, result: { a: [1] } },
    { name: "a whole array replaces an array", target: ["a", "b"], patch: ["c", "d"], result: ["c", "d"] },
    { name: "an object patch replaces an array target", target: { a: "b" }, patch: ["c"], result: ["c"] },
    { name: "a null patch replaces the target", target: { a: "foo" }, patch: null, result: null },
    { name: "a string patch replaces the target", target: { a: "foo" }, patch: "bar", result: "bar" },
    { name: "null inside the patch is not kept", target: { e: null }, patch: { a: 1 }, result: { e: null, a: 1 } },
    { name: "an object patch on an array target starts from {}", target: [1, 2], patch: { a: "b", c: null }, result: { a: "b" } },
    { name: "a nested null on an absent member leaves an empty object", target: {}, patch: { a: { bb: { ccc: null } } }, result: { a: { bb: {} } } },
    { name: "an empty patch changes nothing", target: { a: { b: [1] } }, patch: {}, result: { a: { b: [1] } } },
    { name: "a nested object patch replaces a scalar member", target: { a: 1 }, patch: { a: { b: 2 } }, result: { a: { b: 2 } } },
    { name: "an object member replaced by a scalar", target: { a: { b: 2 } }, patch: { a: 3 }, result: { a: 3 } },
    { name: "deep merge three levels down", target: { a: { b: { c: 1, d: 2 } } }, patch: { a: { b: { d: 3, e: 4 } } }, result: { a: { b: { c: 1, d: 3, e: 4 } } } },
  ];
  for (const { name, target, patch, result } of cases) {
    test(name, () => {
      const frozen = JSON.stringify(target);
      assert.deepEqual(applyMergePatch(target, patch), result);
      assert.equal(JSON.stringify(target), frozen, "the target is not modified");
      assert.deepEqual(applyMergePatch(applyMergePatch(target, patch), patch), result, "applying twice equals applying once");
    });
  }

  test('a member named "__proto__" stays a member and never becomes the prototype', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as JsonValue;
    const merged = applyMergePatch({}, patch) as Record<string, JsonValue>;
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
    assert.equal((merged as { polluted?: unknown }).polluted, undefined);
    assert.equal(JSON.stringify(merged), '{"__proto__":{"polluted":true},"a":1}');
  });
});

// ---------------------------------------------------------------------------------------------
// The plugin on PreCloudInitIso

/** The VMI of hook-manager.ts with the patch annotation (absent when undefined). */
function vmiWithPatch(patchText: string | undefined): Uint8Array {
  const vmi = JSON.parse(vmiJson);
  if (patchText !== undefined) vmi.metadata.annotations[CLOUD_INIT_PATCH_ANNOTATION] = patchText;
  return encode(JSON.stringify(vmi));
}

/** What virt-launcher sends for `data`: CloudInitData and the legacy source made from it. */
function sentFor(data: CloudInitData): { cloudInitData: Uint8Array; cloudInitNoCloudSource: Uint8Array } {
  const source: Record<string, string> = {};
  if (data.UserData) source.userData = data.UserData;
  if (data.NetworkData) source.networkData = data.NetworkData;
  return { cloudInitData: encode(JSON.stringify(data)), cloudInitNoCloudSource: encode(JSON.stringify(source)) };
}

async function run(patchText: string | undefined, sent = sentFor(cloudInitData)): Promise<CloudInitOutcome | HookCallError> {
  return prepareCloudInit({ plugins: [cloudInitPlugin], env: {} }, { ...sent, vmiJson: vmiWithPatch(patchText) });
}

async function answered(patchText: string | undefined, sent = sentFor(cloudInitData)): Promise<CloudInitOutcome> {
  const outcome = await run(patchText, sent);
  if (outcome instanceof HookCallError) assert.fail(`call failed: ${outcome.message}`);
  return outcome;
}

async function refused(patchText: string, sent = sentFor(cloudInitData)): Promise<string> {
  const outcome = await run(patchText, sent);
  if (!(outcome instanceof HookCallError)) return assert.fail(`expected a refusal, got ${decode(outcome.cloudInitData)}`);
  assert.equal(outcome.code, StatusCode.FAILED_PRECONDITION, outcome.message);
  return outcome.message;
}

describe("cloud-init: the merge patch applied to CloudInitData", () => {
  const userData = "#cloud-config\npassword: fedora\nchpasswd: { expire: False }\n";
  const networkData = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    dhcp6: true\n";
  const cases: readonly { name: string; patch: Record<string, JsonValue>; expected: CloudInitData; noCloudSource: Record<string, string> }[] = [
    {
      name: "UserData replaced, the legacy userData follows",
      patch: { UserData: userData },
      expected: { ...cloudInitData, UserData: userData },
      noCloudSource: { userData },
    },
    {
      name: "NetworkData added, the legacy networkData appears",
      patch: { NetworkData: networkData },
      expected: { ...cloudInitData, NetworkData: networkData },
      noCloudSource: { userData: cloudInitData.UserData, networkData },
    },
    {
      name: "nested metadata merged member by member (instance-id kept)",
      patch: { NoCloudMetaData: { "local-hostname": "db-1", "public-keys": { "0": "ssh-ed25519 AAAA test" } } },
      expected: { ...cloudInitData, NoCloudMetaData: { ...cloudInitData.NoCloudMetaData, "local-hostname": "db-1", "public-keys": { "0": "ssh-ed25519 AAAA test" } } },
      noCloudSource: { userData: cloudInitData.UserData },
    },
    {
      name: "null deletes a metadata member",
      patch: { NoCloudMetaData: { "local-hostname": null } },
      expected: { ...cloudInitData, NoCloudMetaData: { "instance-id": "e4686d2c-6e8d-4335-b8fd-81bee22f4814" } },
      noCloudSource: { userData: cloudInitData.UserData },
    },
    {
      name: "arrays replaced whole (DevicesData)",
      patch: { DevicesData: [{ type: "nic", bus: "pci", address: "0000:01:00.0", mac: "02:7e:2c:00:00:01", tags: ["uplink"] }] },
      expected: { ...cloudInitData, DevicesData: [{ type: "nic", bus: "pci", address: "0000:01:00.0", mac: "02:7e:2c:00:00:01", tags: ["uplink"] }] },
      noCloudSource: { userData: cloudInitData.UserData },
    },
    {
      name: "members KubeVirt does not know are kept (a newer KubeVirt's fields)",
      patch: { FutureField: { enabled: true } },
      expected: { ...cloudInitData, FutureField: { enabled: true } } as CloudInitData,
      noCloudSource: { userData: cloudInitData.UserData },
    },
  ];
  for (const { name, patch, expected, noCloudSource } of cases) {
    test(name, async () => {
      const once = await answered(JSON.stringify(patch));
      assert.deepEqual(JSON.parse(decode(once.cloudInitData)), expected);
      assert.deepEqual(JSON.parse(decode(once.cloudInitNoCloudSource)), noCloudSource, "legacy CloudInitNoCloudSource in step");
      // virt-launcher takes CloudInitData (it has UserData and metadata), metadata and all.
      assert.deepEqual(cloudInitDataFromResult(cloudInitData.DataSource, once), expected);
      // Idempotent: the answer fed back in comes back byte for byte.
      const twice = await answered(JSON.stringify(patch), { cloudInitData: once.cloudInitData, cloudInitNoCloudSource: once.cloudInitNoCloudSource });
      assert.equal(decode(twice.cloudInitData), decode(once.cloudInitData), "twice == once (CloudInitData)");
      assert.equal(decode(twice.cloudInitNoCloudSource), decode(once.cloudInitNoCloudSource), "twice == once (legacy source)");
      assert.equal(twice.cloudInitData, once.cloudInitData, "an already-applied patch hands back the bytes it got");
    });
  }

  test("without the annotation both documents come back as the same bytes", async () => {
    const sent = sentFor(cloudInitData);
    const outcome = await answered(undefined, sent);
    assert.equal(outcome.cloudInitData, sent.cloudInitData);
    assert.equal(outcome.cloudInitNoCloudSource, sent.cloudInitNoCloudSource);
  });

  test("a patch that changes nothing hands back the bytes it got (no reformatting)", async () => {
    const sent = { cloudInitData: encode(JSON.stringify(cloudInitData, null, 2)), cloudInitNoCloudSource: sentFor(cloudInitData).cloudInitNoCloudSource };
    const outcome = await answered(JSON.stringify({ UserData: cloudInitData.UserData }), sent);
    assert.equal(outcome.cloudInitData, sent.cloudInitData);
  });

  test("the legacy source's base64 twins go when the text they stand for changes; its other members stay", async () => {
    const sent = {
      cloudInitData: encode(JSON.stringify(cloudInitData)),
      cloudInitNoCloudSource: encode(JSON.stringify({ userData: cloudInitData.UserData, userDataBase64: btoa(cloudInitData.UserData), secretRef: { name: "s" } })),
    };
    const outcome = await answered(JSON.stringify({ UserData: "#cloud-config\n" }), sent);
    assert.deepEqual(JSON.parse(decode(outcome.cloudInitNoCloudSource)), { userData: "#cloud-config\n", secretRef: { name: "s" } });
  });

  test("a caller that sends only the legacy source gets CloudInitData made from it (base64 decoded)", async () => {
    const sent = { cloudInitData: new Uint8Array(0), cloudInitNoCloudSource: encode(JSON.stringify({ userDataBase64: btoa("#cloud-config\n") })) };
    const outcome = await answered(JSON.stringify({ NetworkData: "version: 2\n" }), sent);
    assert.deepEqual(JSON.parse(decode(outcome.cloudInitData)), { DataSource: "noCloud", UserData: "#cloud-config\n", NetworkData: "version: 2\n" });
    assert.deepEqual(JSON.parse(decode(outcome.cloudInitNoCloudSource)), { userData: "#cloud-config\n", networkData: "version: 2\n" });
  });

  test("the plugin subscribes to PreCloudInitIso only", async () => {
    const [plugin] = await loadPlugins(["cloud-init"], { get: () => undefined });
    assert.deepEqual(plugin.hookPoints, ["PreCloudInitIso"]);
    assert.equal(plugin.onDefineDomain, undefined);
  });
});

describe("cloud-init: refusals name the annotation and the place", () => {
  const cases: readonly { name: string; patch: string; message: string | RegExp }[] = [
    {
      name: "invalid JSON, with line and column",
      patch: '{\n  "UserData": "#cloud-config\\n",\n  "NetworkData": ,\n}',
      message: `plugin cloud-init: invalid annotation ${CLOUD_INIT_PATCH_ANNOTATION} (a JSON merge patch for CloudInitData) at line 3, column 18: unexpected ",", expected a JSON value`,
    },
    {
      name: "a patch that is not an object (it would replace CloudInitData whole)",
      patch: '["UserData"]',
      message: `plugin cloud-init: annotation ${CLOUD_INIT_PATCH_ANNOTATION} is an array; expected a JSON object, a merge patch (RFC 7386) for CloudInitData such as {"UserData": "#cloud-config\\n..."}`,
    },
    {
      name: "a field of a type KubeVirt cannot read",
      patch: '{"UserData": 42}',
      message: `plugin cloud-init: CloudInitData after annotation ${CLOUD_INIT_PATCH_ANNOTATION}: UserData is a number; KubeVirt expects a string`,
    },
    {
      name: "a metadata field of a type KubeVirt cannot read",
      patch: '{"NoCloudMetaData": {"public-keys": {"0": 1}}}',
      message: /NoCloudMetaData\.public-keys is an object; KubeVirt expects an object of strings$/,
    },
    {
      name: "removing UserData (virt-launcher would drop the metadata)",
      patch: '{"UserData": null}',
      message: `plugin cloud-init: annotation ${CLOUD_INIT_PATCH_ANNOTATION} removes UserData; virt-launcher would then drop the cloud-init metadata (set UserData to a non-empty string instead)`,
    },
  ];
  for (const { name, patch, message } of cases) {
    test(name, async () => {
      const got = await refused(patch);
      if (typeof message === "string") assert.equal(got, message);
      else assert.match(got, message);
    });
  }
});

describe("cloud-init through bin/domsplice hook --cloud-init", () => {
  before(async () => {
    await ensureNodeBundle();
  });

  test("prints the patched CloudInitData, as sidecar-shim's preCloudInitIso would", () => {
    const userData = "#cloud-config\nhostname: db-1\n";
    const vmi = decode(vmiWithPatch(JSON.stringify({ UserData: userData, NoCloudMetaData: { "local-hostname": "db-1" } })));
    const result = spawnSync(process.execPath, [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", "cloud-init", "--vmi", vmi, "--cloud-init", JSON.stringify(cloudInitData)], {
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.deepEqual(JSON.parse(result.stdout), { ...cloudInitData, UserData: userData, NoCloudMetaData: { ...cloudInitData.NoCloudMetaData, "local-hostname": "db-1" } });
  });

  test("invalid JSON in the annotation: exit 2, one line naming the annotation and line:column", () => {
    const vmi = decode(vmiWithPatch('{"UserData": "x",}'));
    const result = spawnSync(process.execPath, [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", "cloud-init", "--vmi", vmi, "--cloud-init", JSON.stringify(cloudInitData)], {
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(result.status, 2);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `domsplice hook: FAILED_PRECONDITION: plugin cloud-init: invalid annotation ${CLOUD_INIT_PATCH_ANNOTATION} (a JSON merge patch for CloudInitData) at line 1, column 18: unexpected "}", expected a property name in double quotes\n`,
    );
  });
});
