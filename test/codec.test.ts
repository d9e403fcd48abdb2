// The hook message codec (src/hooks/codec.ts) against protobufjs loading proto/*.proto: the same
// bytes when encoding, the same messages when decoding (with unknown fields of every wire type
// mixed in), protobuf's merge rules, views instead of copies, and CodecError with an offset for
// every kind of malformed input.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import fc from "fast-check";
import * as codec from "../src/hooks/codec.ts";
import { CodecError, type MessageCodec } from "../src/hooks/codec.ts";

const protoDir = fileURLToPath(new URL("../proto/", import.meta.url));
const root = protobuf.loadSync(
  ["info.proto", "v1alpha1.proto", "v1alpha2.proto", "v1alpha3.proto", "plugins_v1alpha1.proto"].map(
    (file) => protoDir + file,
  ),
);
root.resolveAll();

const te = new TextEncoder();
const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));

/** Deep copy with every byte array turned into hex, so Buffers, views and Uint8Arrays compare equal. */
function comparable(value: unknown): unknown {
  if (value instanceof Uint8Array) return { hex: hex(value) };
  if (Array.isArray(value)) return value.map(comparable);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = comparable(item);
    return out;
  }
  return value;
}

// ---- arbitraries: every field of every message, proto3 defaults included ----

const bytesArb = fc.uint8Array({ maxLength: 40 });
const textArb = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: "binary", maxLength: 12 }));
const int32Arb = fc.oneof(fc.constantFrom(0, -1, 1, -(2 ** 31), 2 ** 31 - 1, 127, 128, -128), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
const hookPointArb = fc.record({ name: textArb, priority: int32Arb });
const sidecarContextArb = fc.record({
  invocationContext: fc.oneof(fc.constantFrom("", "Boot", "MigrationSource", "MigrationTarget"), textArb),
});
const nodeContextArb = fc.record({ nodeName: textArb });

interface Case {
  /** protobufjs' full name; the v1alpha1/2 duplicates are checked against the same codec. */
  readonly types: readonly string[];
  readonly codec: MessageCodec<any>;
  readonly arbitrary: fc.Arbitrary<Record<string, unknown>>;
  /** The message with every field at its default, as decode returns it for zero bytes. */
  readonly empty: Record<string, unknown>;
}

const none = new Uint8Array(0);
const callbacks = (message: string, versions: string[]) => versions.map((v) => `kubevirt.hooks.${v}.${message}`);
const ALL = ["v1alpha1", "v1alpha2", "v1alpha3"];
const SINCE_2 = ["v1alpha2", "v1alpha3"];

const CASES: Record<string, Case> = {
  InfoParams: { types: ["kubevirt.hooks.info.InfoParams"], codec: codec.InfoParamsCodec, arbitrary: fc.constant({}), empty: {} },
  HookPoint: {
    types: ["kubevirt.hooks.info.HookPoint"],
    codec: codec.HookPointCodec,
    arbitrary: hookPointArb,
    empty: { name: "", priority: 0 },
  },
  InfoResult: {
    types: ["kubevirt.hooks.info.InfoResult"],
    codec: codec.InfoResultCodec,
    arbitrary: fc.record({
      name: textArb,
      hookPoints: fc.array(hookPointArb, { maxLength: 4 }),
      versions: fc.array(fc.oneof(fc.constantFrom("v1alpha1", "v1alpha2", "v1alpha3", ""), textArb), { maxLength: 4 }),
    }),
    empty: { name: "", hookPoints: [], versions: [] },
  },
  OnDefineDomainParams: {
    types: callbacks("OnDefineDomainParams", ALL),
    codec: codec.OnDefineDomainParamsCodec,
    arbitrary: fc.record({ domainXML: bytesArb, vmi: bytesArb }),
    empty: { domainXML: none, vmi: none },
  },
  OnDefineDomainResult: {
    types: callbacks("OnDefineDomainResult", ALL),
    codec: codec.OnDefineDomainResultCodec,
    arbitrary: fc.record({ domainXML: bytesArb }),
    empty: { domainXML: none },
  },
  PreCloudInitIsoParams: {
    types: callbacks("PreCloudInitIsoParams", SINCE_2),
    codec: codec.PreCloudInitIsoParamsCodec,
    arbitrary: fc.record({ cloudInitNoCloudSource: bytesArb, vmi: bytesArb, cloudInitData: bytesArb }),
    empty: { cloudInitNoCloudSource: none, vmi: none, cloudInitData: none },
  },
  PreCloudInitIsoResult: {
    types: callbacks("PreCloudInitIsoResult", SINCE_2),
    codec: codec.PreCloudInitIsoResultCodec,
    arbitrary: fc.record({ cloudInitNoCloudSource: bytesArb, cloudInitData: bytesArb }),
    empty: { cloudInitNoCloudSource: none, cloudInitData: none },
  },
  ShutdownParams: { types: callbacks("ShutdownParams", ["v1alpha3"]), codec: codec.ShutdownParamsCodec, arbitrary: fc.constant({}), empty: {} },
  ShutdownResult: { types: callbacks("ShutdownResult", ["v1alpha3"]), codec: codec.ShutdownResultCodec, arbitrary: fc.constant({}), empty: {} },
  SidecarContext: {
    types: ["kubevirt.hooks.plugins.v1alpha1.SidecarContext"],
    codec: codec.SidecarContextCodec,
    arbitrary: sidecarContextArb,
    empty: { invocationContext: "" },
  },
  MutateDomainRequest: {
    types: ["kubevirt.hooks.plugins.v1alpha1.MutateDomainRequest"],
    codec: codec.MutateDomainRequestCodec,
    arbitrary: fc.record(
      {
        domainType: fc.oneof(fc.constant("libvirt"), textArb),
        domain: bytesArb,
        vmi: bytesArb,
        sidecarContext: sidecarContextArb,
      },
      { requiredKeys: ["domainType", "domain", "vmi"] },
    ),
    empty: { domainType: "", domain: none, vmi: none },
  },
  MutateDomainResponse: {
    types: ["kubevirt.hooks.plugins.v1alpha1.MutateDomainResponse"],
    codec: codec.MutateDomainResponseCodec,
    arbitrary: fc.record({ domain: bytesArb }),
    empty: { domain: none },
  },
  NodeContext: {
    types: ["kubevirt.hooks.plugins.v1alpha1.NodeContext"],
    codec: codec.NodeContextCodec,
    arbitrary: nodeContextArb,
    empty: { nodeName: "" },
  },
  ExecuteNodeHookRequest: {
    types: ["kubevirt.hooks.plugins.v1alpha1.ExecuteNodeHookRequest"],
    codec: codec.ExecuteNodeHookRequestCodec,
    arbitrary: fc.record(
      { hookPoint: fc.oneof(fc.constantFrom("PreVMStart", "PostVMStop"), textArb), vmi: bytesArb, nodeContext: nodeContextArb },
      { requiredKeys: ["hookPoint", "vmi"] },
    ),
    empty: { hookPoint: "", vmi: none },
  },
  ExecuteNodeHookResponse: {
    types: ["kubevirt.hooks.plugins.v1alpha1.ExecuteNodeHookResponse"],
    codec: codec.ExecuteNodeHookResponseCodec,
    arbitrary: fc.constant({}),
    empty: {},
  },
};

const encodeWithProtobufjs = (type: string, message: object): Uint8Array => root.lookupType(type).encode(message).finish();

// ---- unknown fields, encoded with protobufjs' Writer ----

type Unknown =
  | { wire: 0; number: number; value: number }
  | { wire: 1; number: number; value: number }
  | { wire: 2; number: number; value: Uint8Array }
  | { wire: 5; number: number; value: number }
  | { wire: 3; number: number; value: Unknown[] };

// Every message here uses field numbers 1-4; anything from 5 up to the largest allowed is unknown.
const unknownNumber = fc.oneof(fc.integer({ min: 5, max: 20 }), fc.integer({ min: 5, max: 2 ** 29 - 1 }));
const { unknown: unknownArb } = fc.letrec<{ unknown: Unknown }>((tie) => ({
  unknown: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ wire: fc.constant(0 as const), number: unknownNumber, value: fc.maxSafeNat() }),
    fc.record({ wire: fc.constant(1 as const), number: unknownNumber, value: fc.maxSafeNat() }),
    fc.record({ wire: fc.constant(2 as const), number: unknownNumber, value: fc.uint8Array({ maxLength: 10 }) }),
    fc.record({ wire: fc.constant(5 as const), number: unknownNumber, value: fc.nat({ max: 0xffffffff }) }),
    fc.record({ wire: fc.constant(3 as const), number: unknownNumber, value: fc.array(tie("unknown"), { maxLength: 3 }) }),
  ),
}));

function writeUnknown(writer: protobuf.Writer, field: Unknown): void {
  writer.uint32(((field.number << 3) | field.wire) >>> 0);
  switch (field.wire) {
    case 0:
      writer.uint64(field.value);
      break;
    case 1:
      writer.fixed64(field.value);
      break;
    case 2:
      writer.bytes(field.value);
      break;
    case 5:
      writer.fixed32(field.value);
      break;
    case 3:
      for (const inner of field.value) writeUnknown(writer, inner);
      writer.uint32(((field.number << 3) | 4) >>> 0);
      break;
  }
}

function encodeUnknowns(fields: Unknown[]): Uint8Array {
  const writer = protobuf.Writer.create();
  for (const field of fields) writeUnknown(writer, field);
  return writer.finish();
}

/**
 * protobufjs' encoding of `message` cut at field boundaries (one chunk per field occurrence, in
 * number order), so unknown fields can be put between them.
 */
function fieldChunks(type: string, message: Record<string, unknown>): Uint8Array[] {
  const fields = root.lookupType(type).fieldsArray.slice().sort((a, b) => a.id - b.id);
  const chunks: Uint8Array[] = [];
  for (const f of fields) {
    const value = message[f.name];
    if (value === undefined) continue;
    if (f.repeated) for (const item of value as unknown[]) chunks.push(encodeWithProtobufjs(type, { [f.name]: [item] }));
    else chunks.push(encodeWithProtobufjs(type, { [f.name]: value }));
  }
  return chunks;
}

const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

// ---- the tests ----

describe("encode", () => {
  for (const [name, c] of Object.entries(CASES)) {
    test(`${name}: the same bytes as protobufjs for generated messages`, () => {
      fc.assert(
        fc.property(c.arbitrary, (message) => {
          const ours = c.codec.encode(message);
          for (const type of c.types) assert.equal(hex(ours), hex(encodeWithProtobufjs(type, message)), type);
        }),
        { numRuns: 150 },
      );
    });
  }

  test("a message with every field at its proto3 default encodes to zero bytes", () => {
    for (const [name, c] of Object.entries(CASES)) assert.equal(c.codec.encode(c.empty).byteLength, 0, name);
  });

  test("missing fields are treated as their defaults", () => {
    assert.equal(codec.OnDefineDomainResultCodec.encode({} as codec.OnDefineDomainResult).byteLength, 0);
    assert.equal(codec.InfoResultCodec.encode({ name: "x" } as codec.InfoResult).byteLength, 3);
  });

  test("an empty but present nested message is written as a zero-length field (as Go and protobufjs do)", () => {
    const message = { domainType: "", domain: none, vmi: none, sidecarContext: { invocationContext: "" } };
    assert.equal(hex(codec.MutateDomainRequestCodec.encode(message)), "2200");
    assert.equal(hex(encodeWithProtobufjs("kubevirt.hooks.plugins.v1alpha1.MutateDomainRequest", message)), "2200");
  });

  test("negative priorities are 10-byte varints, as protobuf encodes int32", () => {
    const cases: [number, string][] = [
      [-1, "10ffffffffffffffffff01"],
      [-2, "10feffffffffffffffff01"],
      [-(2 ** 31), "1080808080f8ffffffff01"],
      [-129, "10fffeffffffffffffff01"],
      [2 ** 31 - 1, "10ffffffff07"],
    ];
    for (const [priority, expected] of cases) {
      const encoded = codec.HookPointCodec.encode({ name: "", priority });
      assert.equal(hex(encoded), expected, String(priority));
      assert.equal(hex(encoded), hex(encodeWithProtobufjs("kubevirt.hooks.info.HookPoint", { priority })));
      assert.equal(codec.HookPointCodec.decode(encoded).priority, priority);
    }
  });

  test("the Info answer domsplice gives encodes as protobufjs does", () => {
    const info = {
      name: "domsplice",
      hookPoints: [
        { name: "OnDefineDomain", priority: -10 },
        { name: "PreCloudInitIso", priority: 0 },
      ],
      versions: ["v1alpha1", "v1alpha2", "v1alpha3"],
    };
    const ours = codec.InfoResultCodec.encode(info);
    assert.equal(hex(ours), hex(encodeWithProtobufjs("kubevirt.hooks.info.InfoResult", info)));
    assert.deepEqual(codec.InfoResultCodec.decode(ours), info);
  });

  test("non-ASCII strings are written as UTF-8", () => {
    const message = { nodeName: "nœud-☃-😀" };
    const ours = codec.NodeContextCodec.encode(message);
    assert.equal(hex(ours), hex(encodeWithProtobufjs("kubevirt.hooks.plugins.v1alpha1.NodeContext", message)));
    assert.equal(codec.NodeContextCodec.decode(ours).nodeName, message.nodeName);
  });

  test("bytes fields that are views into a larger buffer contribute only their own bytes", () => {
    const pool = new Uint8Array(64).fill(0xee);
    pool.set(te.encode("<domain/>"), 10);
    pool.set(te.encode("{}"), 30);
    const message = { domainXML: pool.subarray(10, 19), vmi: pool.subarray(30, 32) };
    const ours = codec.OnDefineDomainParamsCodec.encode(message);
    assert.equal(hex(ours), hex(encodeWithProtobufjs("kubevirt.hooks.v1alpha3.OnDefineDomainParams", { domainXML: te.encode("<domain/>"), vmi: te.encode("{}") })));
  });

  test("a 1 MB domain encodes as protobufjs does", () => {
    const domain = new Uint8Array(1 << 20);
    for (let i = 0; i < domain.length; i++) domain[i] = (i * 31) & 0xff;
    const message = { domainXML: domain, vmi: te.encode('{"kind":"VirtualMachineInstance"}') };
    const ours = codec.OnDefineDomainParamsCodec.encode(message);
    const theirs = encodeWithProtobufjs("kubevirt.hooks.v1alpha2.OnDefineDomainParams", message);
    assert.equal(ours.byteLength, theirs.byteLength);
    assert.ok(Buffer.from(ours).equals(Buffer.from(theirs)));
  });
});

describe("decode", () => {
  for (const [name, c] of Object.entries(CASES)) {
    test(`${name}: protobufjs encodings decode to the original message`, () => {
      fc.assert(
        fc.property(c.arbitrary, (message) => {
          for (const type of c.types) {
            const decoded = c.codec.decode(encodeWithProtobufjs(type, message));
            assert.deepEqual(comparable(decoded), comparable({ ...message }));
          }
          assert.deepEqual(comparable(c.codec.decode(c.codec.encode(message))), comparable(message));
        }),
        { numRuns: 150 },
      );
    });

    test(`${name}: unknown fields of every wire type, groups included, are skipped`, () => {
      const type = c.types[0]!;
      fc.assert(
        fc.property(c.arbitrary, fc.array(fc.array(unknownArb, { maxLength: 3 }), { minLength: 8, maxLength: 8 }), (message, unknowns) => {
          const chunks = fieldChunks(type, message);
          const parts: Uint8Array[] = [encodeUnknowns(unknowns[0]!)];
          chunks.forEach((chunk, i) => parts.push(chunk, encodeUnknowns(unknowns[(i + 1) % 8]!)));
          const bytes = concat(parts);
          // protobufjs agrees the bytes are the same message (except that protobufjs 8 throws
          // "invalid end group tag" on any group in a message type without fields, which
          // protobuf-go accepts; there it is not asked).
          if (root.lookupType(type).fieldsArray.length > 0) {
            const theirs = root.lookupType(type).decode(bytes);
            assert.equal(hex(encodeWithProtobufjs(type, theirs)), hex(c.codec.encode(message)));
          }
          assert.deepEqual(comparable(c.codec.decode(bytes)), comparable(message));
        }),
        { numRuns: 100 },
      );
    });

    test(`${name}: zero bytes decode to every field at its default`, () => {
      assert.deepEqual(comparable(c.codec.decode(new Uint8Array(0))), comparable(c.empty));
    });
  }

  test("unknown fields inside a nested message are skipped", () => {
    // sidecar_context { 99: varint 5; invocation_context: "Boot"; 7: fixed32 }
    const inner = concat([encodeUnknowns([{ wire: 0, number: 99, value: 5 }]), unhex("0a04 426f6f74"), encodeUnknowns([{ wire: 5, number: 7, value: 1 }])]);
    const bytes = concat([unhex("22"), Uint8Array.of(inner.length), inner]);
    assert.deepEqual(codec.MutateDomainRequestCodec.decode(bytes).sidecarContext, { invocationContext: "Boot" });
  });

  test("a known field number with an unexpected wire type is skipped as unknown (as protobuf-go does)", () => {
    // domainXML (1) as a varint, vmi (2) as fixed32, then vmi properly.
    const bytes = unhex("08 96 01  15 01020304  12 02 7b7d");
    const decoded = codec.OnDefineDomainParamsCodec.decode(bytes);
    assert.equal(decoded.domainXML.byteLength, 0);
    assert.equal(hex(decoded.vmi), "7b7d");
    // priority (int32, field 2) sent length-delimited is skipped too.
    assert.deepEqual(codec.HookPointCodec.decode(unhex("12 01 05  0a 01 61")), { name: "a", priority: 0 });
  });

  test("the last occurrence of a singular scalar field wins", () => {
    const bytes = unhex("0a 01 61  10 05  0a 01 62  10 ffffffffffffffffff01");
    assert.deepEqual(codec.HookPointCodec.decode(bytes), { name: "b", priority: -1 });
    const domain = codec.OnDefineDomainResultCodec.decode(unhex("0a 01 41  0a 02 4243"));
    assert.equal(hex(domain.domainXML), "4243");
  });

  test("a singular message field met twice is merged, later fields overriding earlier ones", () => {
    const boot = unhex("22 06 0a04 426f6f74"); // sidecar_context { invocation_context: "Boot" }
    const empty = unhex("22 00"); // sidecar_context {}
    const target = concat([unhex("22 11 0a0f"), te.encode("MigrationTarget")]);
    assert.equal(codec.MutateDomainRequestCodec.decode(concat([boot, empty])).sidecarContext?.invocationContext, "Boot");
    assert.equal(codec.MutateDomainRequestCodec.decode(concat([boot, target])).sidecarContext?.invocationContext, "MigrationTarget");
    assert.equal(codec.MutateDomainRequestCodec.decode(concat([empty, boot])).sidecarContext?.invocationContext, "Boot");
    const node = codec.ExecuteNodeHookRequestCodec.decode(unhex("1a 03 0a0161  0a 02 5058  1a 00"));
    assert.deepEqual(node.nodeContext, { nodeName: "a" });
    assert.equal(node.hookPoint, "PX");
  });

  test("repeated fields accumulate across interleaved occurrences", () => {
    const bytes = unhex("22 01 61  1a 02 0a00  0a 01 6e  22 01 62  1a 04 0a00 1001");
    assert.deepEqual(codec.InfoResultCodec.decode(bytes), {
      name: "n",
      hookPoints: [
        { name: "", priority: 0 },
        { name: "", priority: 1 },
      ],
      versions: ["a", "b"],
    });
  });

  test("a missing nested message decodes as absent, an empty one as present with defaults", () => {
    assert.equal("sidecarContext" in codec.MutateDomainRequestCodec.decode(unhex("0a 07 6c6962766972 74")), false);
    assert.deepEqual(codec.MutateDomainRequestCodec.decode(unhex("22 00")).sidecarContext, { invocationContext: "" });
    assert.deepEqual(codec.ExecuteNodeHookRequestCodec.decode(unhex("1a 00")).nodeContext, { nodeName: "" });
  });

  test("an int32 sent as a 5-byte varint (low 32 bits only) still decodes to the negative number", () => {
    assert.equal(codec.HookPointCodec.decode(unhex("10 ffffffff0f")).priority, -1);
    // a varint wider than 32 bits keeps its low 32 bits, as protobuf does for int32
    assert.equal(codec.HookPointCodec.decode(unhex("10 8080808010")).priority, 0);
  });

  test("bytes fields are views into the input, which may itself be a view into a pooled buffer", () => {
    const encoded = codec.OnDefineDomainParamsCodec.encode({ domainXML: te.encode("<domain/>"), vmi: te.encode("{}") });
    const pool = new Uint8Array(encoded.length + 100).fill(0xff);
    pool.set(encoded, 37);
    const input = pool.subarray(37, 37 + encoded.length);
    const decoded = codec.OnDefineDomainParamsCodec.decode(input);
    assert.equal(new TextDecoder().decode(decoded.domainXML), "<domain/>");
    assert.equal(new TextDecoder().decode(decoded.vmi), "{}");
    assert.equal(decoded.domainXML.buffer, pool.buffer);
    assert.equal(decoded.domainXML.byteOffset, 37 + 2);
    pool[37 + 2] = 0x58; // the view sees writes to the pool: no copy was made
    assert.equal(decoded.domainXML[0], 0x58);
  });

  test("a 1 MB domain from protobufjs decodes to a view of the same bytes", () => {
    const domain = new Uint8Array(1 << 20);
    for (let i = 0; i < domain.length; i++) domain[i] = (i * 7) & 0xff;
    const bytes = encodeWithProtobufjs("kubevirt.hooks.plugins.v1alpha1.MutateDomainRequest", { domainType: "libvirt", domain, sidecarContext: { invocationContext: "Boot" } });
    const decoded = codec.MutateDomainRequestCodec.decode(bytes);
    assert.equal(decoded.domain.buffer, bytes.buffer);
    assert.ok(Buffer.from(decoded.domain).equals(Buffer.from(domain)));
    assert.equal(decoded.domainType, "libvirt");
    assert.equal(decoded.sidecarContext?.invocationContext, "Boot");
  });
});

describe("malformed input", () => {
  /** Asserts decode throws a CodecError at `offset` whose message says `reason`. */
  function rejects(c: MessageCodec<unknown>, bytes: Uint8Array, offset: number, reason: RegExp): void {
    assert.throws(
      () => c.decode(bytes),
      (error: unknown) => {
        assert.ok(error instanceof CodecError, `expected CodecError, got ${String(error)}`);
        assert.equal(error.offset, offset, error.message);
        assert.equal(error.code, "MALFORMED_PROTOBUF");
        assert.match(error.message, reason);
        assert.match(error.message, new RegExp(`at byte ${offset}\\b`));
        return true;
      },
    );
  }
  const params = codec.OnDefineDomainParamsCodec as MessageCodec<unknown>;
  const request = codec.MutateDomainRequestCodec as MessageCodec<unknown>;

  test("a truncated varint is rejected where the varint starts", () => {
    rejects(params, unhex("80"), 0, /truncated varint/);
    rejects(params, unhex("12 02 7b7d 0a"), 5, /truncated varint/); // a key without its length
    rejects(params, unhex("0a ff"), 1, /truncated varint/);
    rejects(codec.HookPointCodec as MessageCodec<unknown>, unhex("10 ffff"), 1, /truncated varint/);
  });

  test("a length that runs past the end is rejected at the length", () => {
    rejects(params, unhex("0a 05 3c3e"), 1, /length 5 bytes runs past the end \(2 bytes left\)/);
    rejects(params, unhex("12 ffffffff0f"), 1, /runs past the end/);
    rejects(params, unhex("12 ffffffffffffffff7f"), 1, /more than 4 GiB/);
  });

  test("a nested message's fields may not run past the nested message", () => {
    // sidecar_context of 3 bytes whose string claims 4: offsets count from the start of the input
    rejects(request, unhex("0a 01 6c  22 03 0a04 42"), 6, /SidecarContext.*runs past the end/);
  });

  test("wire types 6 and 7 are rejected", () => {
    rejects(params, unhex("0e"), 0, /invalid wire type 6 \(field 1\)/);
    rejects(params, unhex("12 00 3f"), 2, /invalid wire type 7 \(field 7\)/);
  });

  test("field number 0 is rejected", () => {
    rejects(params, unhex("02 00"), 0, /field number 0/);
    rejects(params, unhex("12 00 00"), 2, /field number 0/);
  });

  test("a field number above 2^29-1 is rejected", () => {
    rejects(params, unhex("f8ffffff8001"), 0, /field number out of range/);
  });

  test("an end-group marker outside a group is rejected", () => {
    rejects(params, unhex("0c"), 0, /end-group marker for field 1 outside any group/);
  });

  test("a group without its end marker, or closed by another field's marker, is rejected", () => {
    rejects(params, unhex("2b 08 01"), 3, /group 5 has no end-group marker/);
    rejects(params, unhex("2b 08 01 34"), 3, /end-group marker for field 6 inside group 5/);
  });

  test("groups nested past the limit are rejected without exhausting the stack", () => {
    const depth = 200_000;
    const bytes = new Uint8Array(depth * 2);
    bytes.fill(0x2b, 0, depth); // start group 5, over and over
    bytes.fill(0x2c, depth); // and the matching ends
    rejects(params, bytes, 100, /groups nested deeper than 100/);
    // 100 levels are fine
    const fine = new Uint8Array(200);
    fine.fill(0x2b, 0, 100);
    fine.fill(0x2c, 100);
    assert.deepEqual(comparable(params.decode(fine)), comparable({ domainXML: none, vmi: none }));
  });

  test("a varint longer than 10 bytes, or with more than 64 bits, is rejected", () => {
    rejects(params, unhex("28 ffffffffffffffffff ff01"), 1, /varint longer than 64 bits/);
    rejects(params, unhex("28 ffffffffffffffffff02"), 1, /varint longer than 64 bits/);
  });

  test("truncated fixed-width fields are rejected", () => {
    rejects(params, unhex("29 01020304050607"), 1, /truncated 64-bit field/);
    rejects(params, unhex("2d 010203"), 1, /truncated 32-bit field/);
  });

  test("a string field that is not UTF-8 is rejected (proto3 requires UTF-8, as protobuf-go does)", () => {
    rejects(codec.NodeContextCodec as MessageCodec<unknown>, unhex("0a 02 c328"), 2, /field nodeName is not valid UTF-8/);
    // bytes fields carry anything
    assert.equal(hex(codec.OnDefineDomainResultCodec.decode(unhex("0a 02 c328")).domainXML), "c328");
  });

  test("errors name the message being decoded", () => {
    assert.throws(() => codec.InfoResultCodec.decode(unhex("0a 05")), /malformed protobuf InfoResult at byte 1/);
  });

  test("random bytes either decode or throw CodecError, never another exception", () => {
    const all = Object.values(CASES).map((c) => c.codec);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), fc.nat({ max: all.length - 1 }), (bytes, which) => {
        try {
          all[which]!.decode(bytes);
        } catch (error) {
          assert.ok(error instanceof CodecError, String(error));
        }
      }),
      { numRuns: 3000 },
    );
  });

  test("every truncation of a valid message either decodes or throws CodecError", () => {
    fc.assert(
      fc.property(CASES.MutateDomainRequest!.arbitrary, fc.array(unknownArb, { maxLength: 3 }), (message, unknowns) => {
        const bytes = concat([codec.MutateDomainRequestCodec.encode(message as unknown as codec.MutateDomainRequest), encodeUnknowns(unknowns)]);
        for (let cut = 0; cut < bytes.length; cut++) {
          try {
            codec.MutateDomainRequestCodec.decode(bytes.subarray(0, cut));
          } catch (error) {
            assert.ok(error instanceof CodecError, String(error));
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});
