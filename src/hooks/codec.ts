// The protobuf wire codec for KubeVirt's hook messages (proto/*.proto is the source of truth).
// Written by hand from a small field table per message so the sidecar parses no .proto file at
// start-up (that costs 50-100 ms) and needs no runtime dependency. It follows protobuf's own
// rules, so its bytes equal protobufjs' and Go's: fields in number order, proto3 defaults ("",
// empty bytes, 0) not written, int32 negatives as 10-byte varints; when decoding, unknown fields
// of every wire type (groups included) are skipped, a field met with an unexpected wire type is
// treated as unknown (as protobuf-go does), the last occurrence of a singular scalar wins and a
// singular message field met twice is merged. Bytes fields decode to views into the input (no
// copies); inputs may themselves be views into a larger pooled buffer.
//
// The messages of Callbacks v1alpha1, v1alpha2 and v1alpha3 are field-for-field the same, so one
// codec per message name serves all three versions.

export interface MessageCodec<T> {
  encode(message: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** Bytes that are not a valid encoding of the message; `offset` is where decoding stopped. */
export class CodecError extends Error {
  readonly code = "MALFORMED_PROTOBUF";
  constructor(
    readonly messageName: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`malformed protobuf ${messageName} at byte ${offset}: ${reason}`);
    this.name = "CodecError";
  }
}

// ---- message shapes (field names as protobufjs spells them: lowerCamelCase) ----

// kubevirt.hooks.info
export interface InfoParams {}
export interface HookPoint {
  name: string;
  /** int32; higher runs first; may be negative. */
  priority: number;
}
export interface InfoResult {
  name: string;
  hookPoints: HookPoint[];
  versions: string[];
}

// kubevirt.hooks.v1alpha1 / v1alpha2 / v1alpha3
export interface OnDefineDomainParams {
  domainXML: Uint8Array;
  /** VirtualMachineInstance, JSON. */
  vmi: Uint8Array;
}
export interface OnDefineDomainResult {
  domainXML: Uint8Array;
}
export interface PreCloudInitIsoParams {
  cloudInitNoCloudSource: Uint8Array;
  vmi: Uint8Array;
  cloudInitData: Uint8Array;
}
export interface PreCloudInitIsoResult {
  cloudInitNoCloudSource: Uint8Array;
  cloudInitData: Uint8Array;
}
export interface ShutdownParams {}
export interface ShutdownResult {}

// kubevirt.hooks.plugins.v1alpha1
export interface SidecarContext {
  /** Boot | MigrationSource | MigrationTarget */
  invocationContext: string;
}
export interface MutateDomainRequest {
  /** "libvirt" */
  domainType: string;
  domain: Uint8Array;
  vmi: Uint8Array;
  /** Absent when the caller sent none; an empty one is kept (it is on the wire). */
  sidecarContext?: SidecarContext;
}
export interface MutateDomainResponse {
  domain: Uint8Array;
}
export interface NodeContext {
  nodeName: string;
}
export interface ExecuteNodeHookRequest {
  /** e.g. "PreVMStart", "PostVMStop" */
  hookPoint: string;
  vmi: Uint8Array;
  nodeContext?: NodeContext;
}
export interface ExecuteNodeHookResponse {}

// ---- field tables ----

// What a field holds; decides its wire type and how it is read and written.
const STRING = 0;
const BYTES = 1;
const INT32 = 2;
const MESSAGE = 3;
const REPEATED_STRING = 4;
const REPEATED_MESSAGE = 5;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

/** Groups nest; skipping unknown ones recurses, so the depth is bounded (protobuf-go: 10000). */
const MAX_GROUP_DEPTH = 100;

type Fields = Record<string, unknown>;

interface Field {
  readonly key: string;
  readonly kind: number;
  readonly wireType: number;
  /** The encoded key (number << 3 | wire type) and its varint size. */
  readonly tag: number;
  readonly tagSize: number;
  readonly message: Schema | undefined;
}

interface Schema {
  readonly name: string;
  /** In field-number order: the order protobuf writes them. */
  readonly fields: readonly Field[];
  /** Index = field number. */
  readonly byNumber: readonly (Field | undefined)[];
  /** A message with every field at its default (optional messages absent). */
  readonly create: () => Fields;
}

function field(number: number, key: string, kind: number, message?: Schema): [number, Field] {
  const wireType = kind === INT32 ? WIRE_VARINT : WIRE_LEN;
  const tag = (number << 3) | wireType;
  return [number, { key, kind, wireType, tag, tagSize: varintSize(tag), message }];
}

function schema(name: string, create: () => Fields, ...numbered: [number, Field][]): Schema {
  numbered.sort((a, b) => a[0] - b[0]);
  const byNumber: (Field | undefined)[] = [];
  for (const [number, f] of numbered) byNumber[number] = f;
  return { name, fields: numbered.map(([, f]) => f), byNumber, create };
}

const EMPTY_BYTES = new Uint8Array(0);

// ---- decoding ----

// readVarint's second and third results (the reader is synchronous, so module state is safe).
let varintEnd = 0;
let varintAbove32 = false;

/**
 * Reads a varint (at most 10 bytes, as protobuf allows) and returns its low 32 bits unsigned;
 * varintAbove32 says whether any higher bit was set, varintEnd where the next byte is.
 */
function readVarint(bytes: Uint8Array, pos: number, end: number, name: string): number {
  const start = pos;
  let low = 0;
  let above32 = false;
  for (let i = 0; ; i++) {
    if (pos >= end) throw new CodecError(name, start, "truncated varint");
    const byte = bytes[pos++]!;
    if (i < 4) low |= (byte & 0x7f) << (7 * i);
    else if (i === 4) {
      low |= (byte & 0x0f) << 28;
      if (byte & 0x70) above32 = true;
    } else if (i < 9) {
      if (byte & 0x7f) above32 = true;
    } else {
      // The tenth byte holds bit 63 only.
      if (byte > 1) throw new CodecError(name, start, "varint longer than 64 bits");
      if (byte) above32 = true;
    }
    if (byte < 0x80) break;
  }
  varintEnd = pos;
  varintAbove32 = above32;
  return low >>> 0;
}

/** Reads a length prefix and checks the content fits before `end`; returns the content start. */
function readLength(bytes: Uint8Array, pos: number, end: number, name: string): number {
  const length = readVarint(bytes, pos, end, name);
  const contentStart = varintEnd;
  if (varintAbove32 || length > end - contentStart) {
    const size = varintAbove32 ? "more than 4 GiB" : `${length} bytes`;
    throw new CodecError(name, pos, `length ${size} runs past the end (${end - contentStart} bytes left)`);
  }
  varintEnd = contentStart + length;
  return contentStart;
}

/** Reads a field key; returns the field number and leaves the wire type in keyWireType. */
let keyWireType = 0;
function readKey(bytes: Uint8Array, pos: number, end: number, name: string): number {
  const key = readVarint(bytes, pos, end, name);
  if (varintAbove32) throw new CodecError(name, pos, "field number out of range");
  const number = key >>> 3;
  if (number === 0) throw new CodecError(name, pos, "field number 0");
  keyWireType = key & 7;
  return number;
}

/** Skips the value of a field this codec does not know; returns the position after it. */
function skipValue(
  bytes: Uint8Array,
  pos: number,
  end: number,
  wireType: number,
  number: number,
  keyStart: number,
  depth: number,
  name: string,
): number {
  switch (wireType) {
    case WIRE_VARINT:
      readVarint(bytes, pos, end, name);
      return varintEnd;
    case WIRE_FIXED64:
      if (end - pos < 8) throw new CodecError(name, pos, "truncated 64-bit field");
      return pos + 8;
    case WIRE_LEN:
      readLength(bytes, pos, end, name);
      return varintEnd;
    case WIRE_FIXED32:
      if (end - pos < 4) throw new CodecError(name, pos, "truncated 32-bit field");
      return pos + 4;
    case WIRE_START_GROUP: {
      if (depth >= MAX_GROUP_DEPTH) throw new CodecError(name, keyStart, `groups nested deeper than ${MAX_GROUP_DEPTH}`);
      for (;;) {
        if (pos >= end) throw new CodecError(name, pos, `group ${number} has no end-group marker`);
        const innerStart = pos;
        const inner = readKey(bytes, pos, end, name);
        const innerWireType = keyWireType;
        pos = varintEnd;
        if (innerWireType === WIRE_END_GROUP) {
          if (inner !== number) {
            throw new CodecError(name, innerStart, `end-group marker for field ${inner} inside group ${number}`);
          }
          return pos;
        }
        pos = skipValue(bytes, pos, end, innerWireType, inner, innerStart, depth + 1, name);
      }
    }
    case WIRE_END_GROUP:
      throw new CodecError(name, keyStart, `end-group marker for field ${number} outside any group`);
    default:
      throw new CodecError(name, keyStart, `invalid wire type ${wireType} (field ${number})`);
  }
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function readString(bytes: Uint8Array, start: number, end: number, name: string, key: string): string {
  // Short ASCII (hook point names, versions, "libvirt", contexts) without a decoder call.
  if (end - start <= 64) {
    let text = "";
    let pos = start;
    for (; pos < end; pos++) {
      const byte = bytes[pos]!;
      if (byte >= 0x80) break;
      text += String.fromCharCode(byte);
    }
    if (pos === end) return text;
  }
  try {
    return utf8Decoder.decode(bytes.subarray(start, end));
  } catch {
    // proto3 string fields must be UTF-8; protobuf-go rejects them too.
    throw new CodecError(name, start, `field ${key} is not valid UTF-8`);
  }
}

/** Decodes bytes[pos, end) into `target`, merging into what is already there. */
function decodeInto(type: Schema, target: Fields, bytes: Uint8Array, pos: number, end: number): void {
  const name = type.name;
  while (pos < end) {
    const keyStart = pos;
    const number = readKey(bytes, pos, end, name);
    const wireType = keyWireType;
    pos = varintEnd;
    const f = type.byNumber[number];
    if (f === undefined || f.wireType !== wireType) {
      pos = skipValue(bytes, pos, end, wireType, number, keyStart, 0, name);
      continue;
    }
    if (f.kind === INT32) {
      target[f.key] = readVarint(bytes, pos, end, name) | 0;
      pos = varintEnd;
      continue;
    }
    const start = readLength(bytes, pos, end, name);
    pos = varintEnd;
    switch (f.kind) {
      case BYTES:
        target[f.key] = bytes.subarray(start, pos);
        break;
      case STRING:
        target[f.key] = readString(bytes, start, pos, name, f.key);
        break;
      case REPEATED_STRING:
        (target[f.key] as string[]).push(readString(bytes, start, pos, name, f.key));
        break;
      case MESSAGE: {
        const existing = target[f.key] as Fields | undefined;
        const message = existing ?? f.message!.create();
        decodeInto(f.message!, message, bytes, start, pos);
        target[f.key] = message;
        break;
      }
      case REPEATED_MESSAGE: {
        const message = f.message!.create();
        decodeInto(f.message!, message, bytes, start, pos);
        (target[f.key] as Fields[]).push(message);
        break;
      }
    }
  }
}

// ---- encoding ----

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

function int32Size(value: number): number {
  return value < 0 ? 10 : varintSize(value);
}

function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) length += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
      i++;
    } else length += 2; // 3 bytes; a lone surrogate becomes U+FFFD, also 3 bytes
  }
  return length;
}

/**
 * Sums the encoded size of `message`; appends, in the order they will be written, the size of
 * every string and nested message so the write pass need not compute them again.
 */
function measure(type: Schema, message: Fields, sizes: number[]): number {
  let total = 0;
  for (const f of type.fields) {
    const value = message[f.key];
    if (value === undefined || value === null) continue;
    switch (f.kind) {
      case STRING: {
        const length = utf8Length(value as string);
        if (length === 0) break;
        sizes.push(length);
        total += f.tagSize + varintSize(length) + length;
        break;
      }
      case BYTES: {
        const length = (value as Uint8Array).byteLength;
        if (length !== 0) total += f.tagSize + varintSize(length) + length;
        break;
      }
      case INT32: {
        const number = (value as number) | 0;
        if (number !== 0) total += f.tagSize + int32Size(number);
        break;
      }
      case MESSAGE: {
        const slot = sizes.push(0) - 1;
        const length = measure(f.message!, value as Fields, sizes);
        sizes[slot] = length;
        total += f.tagSize + varintSize(length) + length;
        break;
      }
      case REPEATED_STRING:
        for (const item of value as string[]) {
          const length = utf8Length(item);
          sizes.push(length);
          total += f.tagSize + varintSize(length) + length;
        }
        break;
      case REPEATED_MESSAGE:
        for (const item of value as Fields[]) {
          const slot = sizes.push(0) - 1;
          const length = measure(f.message!, item, sizes);
          sizes[slot] = length;
          total += f.tagSize + varintSize(length) + length;
        }
        break;
    }
  }
  return total;
}

const utf8Encoder = new TextEncoder();

/** The write pass: a cursor into the output and into the sizes measure() recorded. */
class Writer {
  pos = 0;
  sizeIndex = 0;
  constructor(
    readonly out: Uint8Array,
    readonly sizes: readonly number[],
  ) {}

  varint(value: number): void {
    const out = this.out;
    while (value >= 0x80) {
      out[this.pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    out[this.pos++] = value;
  }

  /** A negative int32 is sign-extended to 64 bits: always 10 bytes. */
  int32(value: number): void {
    if (value >= 0) return this.varint(value);
    const out = this.out;
    let low = value >>> 0;
    for (let i = 0; i < 4; i++) {
      out[this.pos++] = (low & 0x7f) | 0x80;
      low >>>= 7;
    }
    out[this.pos++] = low | 0xf0; // bits 28-31, then bits 32-34 all ones
    for (let i = 0; i < 4; i++) out[this.pos++] = 0xff;
    out[this.pos++] = 0x01;
  }

  string(text: string, length: number): void {
    this.varint(length);
    if (length === text.length) {
      const out = this.out;
      for (let i = 0; i < length; i++) out[this.pos++] = text.charCodeAt(i);
    } else {
      utf8Encoder.encodeInto(text, this.out.subarray(this.pos, this.pos + length));
      this.pos += length;
    }
  }

  message(type: Schema, message: Fields): void {
    for (const f of type.fields) {
      const value = message[f.key];
      if (value === undefined || value === null) continue;
      switch (f.kind) {
        case STRING: {
          if ((value as string).length === 0) break;
          this.varint(f.tag);
          this.string(value as string, this.sizes[this.sizeIndex++]!);
          break;
        }
        case BYTES: {
          const bytes = value as Uint8Array;
          if (bytes.byteLength === 0) break;
          this.varint(f.tag);
          this.varint(bytes.byteLength);
          this.out.set(bytes, this.pos);
          this.pos += bytes.byteLength;
          break;
        }
        case INT32: {
          const number = (value as number) | 0;
          if (number === 0) break;
          this.varint(f.tag);
          this.int32(number);
          break;
        }
        case MESSAGE:
          this.varint(f.tag);
          this.varint(this.sizes[this.sizeIndex++]!);
          this.message(f.message!, value as Fields);
          break;
        case REPEATED_STRING:
          for (const item of value as string[]) {
            this.varint(f.tag);
            this.string(item, this.sizes[this.sizeIndex++]!);
          }
          break;
        case REPEATED_MESSAGE:
          for (const item of value as Fields[]) {
            this.varint(f.tag);
            this.varint(this.sizes[this.sizeIndex++]!);
            this.message(f.message!, item);
          }
          break;
      }
    }
  }
}

function codec<T>(type: Schema): MessageCodec<T> {
  return {
    encode(message: T): Uint8Array {
      const sizes: number[] = [];
      const size = measure(type, message as Fields, sizes);
      const writer = new Writer(new Uint8Array(size), sizes);
      writer.message(type, message as Fields);
      return writer.out;
    },
    decode(bytes: Uint8Array): T {
      const message = type.create();
      decodeInto(type, message, bytes, 0, bytes.byteLength);
      return message as T;
    },
  };
}

// ---- the messages ----

const hookPoint = schema(
  "HookPoint",
  () => ({ name: "", priority: 0 }),
  field(1, "name", STRING),
  field(2, "priority", INT32),
);
const sidecarContext = schema("SidecarContext", () => ({ invocationContext: "" }), field(1, "invocationContext", STRING));
const nodeContext = schema("NodeContext", () => ({ nodeName: "" }), field(1, "nodeName", STRING));
const empty = (name: string): Schema => schema(name, () => ({}));

export const InfoParamsCodec: MessageCodec<InfoParams> = codec(empty("InfoParams"));
export const HookPointCodec: MessageCodec<HookPoint> = codec(hookPoint);
export const InfoResultCodec: MessageCodec<InfoResult> = codec(
  schema(
    "InfoResult",
    () => ({ name: "", hookPoints: [], versions: [] }),
    field(1, "name", STRING),
    field(3, "hookPoints", REPEATED_MESSAGE, hookPoint),
    field(4, "versions", REPEATED_STRING),
  ),
);

export const OnDefineDomainParamsCodec: MessageCodec<OnDefineDomainParams> = codec(
  schema(
    "OnDefineDomainParams",
    () => ({ domainXML: EMPTY_BYTES, vmi: EMPTY_BYTES }),
    field(1, "domainXML", BYTES),
    field(2, "vmi", BYTES),
  ),
);
export const OnDefineDomainResultCodec: MessageCodec<OnDefineDomainResult> = codec(
  schema("OnDefineDomainResult", () => ({ domainXML: EMPTY_BYTES }), field(1, "domainXML", BYTES)),
);
export const PreCloudInitIsoParamsCodec: MessageCodec<PreCloudInitIsoParams> = codec(
  schema(
    "PreCloudInitIsoParams",
    () => ({ cloudInitNoCloudSource: EMPTY_BYTES, vmi: EMPTY_BYTES, cloudInitData: EMPTY_BYTES }),
    field(1, "cloudInitNoCloudSource", BYTES),
    field(2, "vmi", BYTES),
    field(3, "cloudInitData", BYTES),
  ),
);
export const PreCloudInitIsoResultCodec: MessageCodec<PreCloudInitIsoResult> = codec(
  schema(
    "PreCloudInitIsoResult",
    () => ({ cloudInitNoCloudSource: EMPTY_BYTES, cloudInitData: EMPTY_BYTES }),
    field(1, "cloudInitNoCloudSource", BYTES),
    field(3, "cloudInitData", BYTES),
  ),
);
export const ShutdownParamsCodec: MessageCodec<ShutdownParams> = codec(empty("ShutdownParams"));
export const ShutdownResultCodec: MessageCodec<ShutdownResult> = codec(empty("ShutdownResult"));

export const SidecarContextCodec: MessageCodec<SidecarContext> = codec(sidecarContext);
export const MutateDomainRequestCodec: MessageCodec<MutateDomainRequest> = codec(
  schema(
    "MutateDomainRequest",
    () => ({ domainType: "", domain: EMPTY_BYTES, vmi: EMPTY_BYTES }),
    field(1, "domainType", STRING),
    field(2, "domain", BYTES),
    field(3, "vmi", BYTES),
    field(4, "sidecarContext", MESSAGE, sidecarContext),
  ),
);
export const MutateDomainResponseCodec: MessageCodec<MutateDomainResponse> = codec(
  schema("MutateDomainResponse", () => ({ domain: EMPTY_BYTES }), field(1, "domain", BYTES)),
);
export const NodeContextCodec: MessageCodec<NodeContext> = codec(nodeContext);
export const ExecuteNodeHookRequestCodec: MessageCodec<ExecuteNodeHookRequest> = codec(
  schema(
    "ExecuteNodeHookRequest",
    () => ({ hookPoint: "", vmi: EMPTY_BYTES }),
    field(1, "hookPoint", STRING),
    field(2, "vmi", BYTES),
    field(3, "nodeContext", MESSAGE, nodeContext),
  ),
);
export const ExecuteNodeHookResponseCodec: MessageCodec<ExecuteNodeHookResponse> = codec(
  empty("ExecuteNodeHookResponse"),
);
