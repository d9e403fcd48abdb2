// The cloud-init plugin (PreCloudInitIso): a VM owner edits the cloud-init data KubeVirt is
// about to write to the VM's NoCloud/ConfigDrive ISO by putting a JSON merge patch (RFC 7386)
// for KubeVirt's CloudInitData in the VMI annotation `domsplice.io/cloud-init-patch`, e.g.
//   {"UserData": "#cloud-config\n...", "NoCloudMetaData": {"local-hostname": "db-1"}}
//
// Also the CloudInitData rules the exec plugin shares (exec.ts):
// - CloudInitData is virt-launcher's Go struct (kubevirt pkg/cloud-init) marshalled without
//   json tags, so its keys are the Go field names: DataSource, NoCloudMetaData,
//   ConfigDriveMetaData, UserData, NetworkData, DevicesData, VolumeName. Go's json.Unmarshal
//   refuses a field of the wrong type and virt-launcher then fails the VM start with a bare
//   unmarshal error, so a wrong type is refused here with the field named.
// - virt-launcher (pkg/hooks/manager.go) sends CloudInitData and, for hooks written before it
//   existed, a CloudInitNoCloudSource with the same user and network data; from the answer it
//   takes CloudInitData when that has UserData and metadata, else the user and network data of
//   the returned CloudInitNoCloudSource. So whatever edits one must keep the other in step.

import { HookCallError } from "../hooks/call-error.ts";
import { parseJsonInput } from "../hooks/json-input.ts";
import { applyMergePatch, isJsonObject, type JsonValue } from "./json-merge-patch.ts";
import { PluginError, type CloudInitContext, type CloudInitResult, type Plugin, type PluginFactory } from "./types.ts";

export const CLOUD_INIT_PATCH_ANNOTATION = "domsplice.io/cloud-init-patch";

export type CloudInitData = { [field: string]: JsonValue };

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

export const cloudInitPlugin: Plugin = {
  name: "cloud-init",
  hookPoints: ["PreCloudInitIso"],
  preCloudInitIso(context: CloudInitContext): CloudInitResult {
    const patchText = context.vmi.metadata?.annotations?.[CLOUD_INIT_PATCH_ANNOTATION];
    if (patchText === undefined) return { cloudInitData: context.cloudInitData, cloudInitNoCloudSource: context.cloudInitNoCloudSource };

    const where = `annotation ${CLOUD_INIT_PATCH_ANNOTATION}`;
    if (typeof patchText !== "string") throw new PluginError(`${where} is not a string`);
    const mergePatch = parseJson(encoder.encode(patchText), `${where} (a JSON merge patch for CloudInitData)`);
    if (!isJsonObject(mergePatch)) {
      throw new PluginError(`${where} is ${describeJson(mergePatch)}; expected a JSON object, a merge patch (RFC 7386) for CloudInitData such as {"UserData": "#cloud-config\\n..."}`);
    }

    const sent = cloudInitDataOf(context);
    const patched = applyMergePatch(sent.data, mergePatch);
    const data = checkCloudInitData(patched, `CloudInitData after ${where}`);
    if (typeof sent.data.UserData === "string" && sent.data.UserData !== "" && !(typeof data.UserData === "string" && data.UserData !== "")) {
      // virt-launcher takes CloudInitData only with UserData; without it, it falls back to the
      // legacy source and drops the metadata (instance-id, hostname, SSH keys).
      throw new PluginError(`${where} removes UserData; virt-launcher would then drop the cloud-init metadata (set UserData to a non-empty string instead)`);
    }
    if (JSON.stringify(data) === JSON.stringify(sent.data)) {
      // Already applied (virt-launcher may call twice): the bytes stay as they came.
      return { cloudInitData: context.cloudInitData, cloudInitNoCloudSource: context.cloudInitNoCloudSource };
    }
    return { cloudInitData: encoder.encode(JSON.stringify(data)), cloudInitNoCloudSource: noCloudSourceFor(context.cloudInitNoCloudSource, data) };
  },
};

/** It has no settings. */
export const createCloudInitPlugin: PluginFactory = () => cloudInitPlugin;

// ---------------------------------------------------------------- CloudInitData rules, shared with exec.ts

/**
 * The CloudInitData of a call, parsed, with its JSON text. A caller that sent only the legacy
 * CloudInitNoCloudSource (cloudInitData empty) gets one made from its user and network data,
 * the way KubeVirt reads a cloudInitNoCloud volume (raw text wins over base64).
 */
export function cloudInitDataOf(context: Pick<CloudInitContext, "cloudInitData" | "cloudInitNoCloudSource">): { readonly data: CloudInitData; readonly json: Uint8Array } {
  if (context.cloudInitData.length > 0) {
    return { data: checkCloudInitData(parseJson(context.cloudInitData, "cloudInitData JSON"), "cloudInitData"), json: context.cloudInitData };
  }
  const data: CloudInitData = { DataSource: "noCloud", UserData: "", NetworkData: "" };
  if (context.cloudInitNoCloudSource.length > 0) {
    const source = parseJson(context.cloudInitNoCloudSource, "cloudInitNoCloudSource JSON");
    if (isJsonObject(source)) {
      data.UserData = rawOrBase64(source, "userData", "userDataBase64");
      data.NetworkData = rawOrBase64(source, "networkData", "networkDataBase64");
    }
  }
  return { data, json: encoder.encode(JSON.stringify(data)) };
}

function rawOrBase64(source: CloudInitData, raw: string, base64: string): string {
  const text = source[raw];
  if (typeof text === "string" && text !== "") return text;
  const encoded = source[base64];
  if (typeof encoded !== "string" || encoded === "") return "";
  return new TextDecoder().decode(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)));
}

/**
 * The legacy CloudInitNoCloudSource to answer with, in step with `data`: the one sent, with
 * userData and networkData set from `data` (absent when empty, as Go's omitempty leaves them)
 * and its base64 twins removed (they would otherwise stand for the old text wherever the raw
 * field is empty). Nothing when nothing was sent; the bytes sent when nothing changes.
 */
export function noCloudSourceFor(sent: Uint8Array, data: CloudInitData): Uint8Array {
  if (sent.length === 0) return EMPTY;
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(new TextDecoder().decode(sent)) as JsonValue;
  } catch {
    parsed = {};
  }
  const before = isJsonObject(parsed) ? parsed : {};
  const source: CloudInitData = { ...before };
  delete source.userDataBase64;
  delete source.networkDataBase64;
  for (const [from, to] of [["UserData", "userData"], ["NetworkData", "networkData"]] as const) {
    const text = data[from];
    if (typeof text === "string" && text !== "") source[to] = text;
    else delete source[to];
  }
  return JSON.stringify(source) === JSON.stringify(before) ? sent : encoder.encode(JSON.stringify(source));
}

type FieldKind = "string" | "object" | "array" | "string map";

// Go's types for CloudInitData and its metadata structs (pkg/cloud-init/cloud-init.go); JSON
// null is fine for any of them (Go leaves the zero value). Unknown members are left alone: Go
// ignores them, and a newer KubeVirt may add fields.
const CLOUD_INIT_DATA_FIELDS: Readonly<Record<string, FieldKind>> = {
  DataSource: "string",
  NoCloudMetaData: "object",
  ConfigDriveMetaData: "object",
  UserData: "string",
  NetworkData: "string",
  DevicesData: "array",
  VolumeName: "string",
};
const METADATA_FIELDS: Readonly<Record<string, Readonly<Record<string, FieldKind>>>> = {
  NoCloudMetaData: { "instance-type": "string", "instance-id": "string", "local-hostname": "string", "public-keys": "string map" },
  ConfigDriveMetaData: {
    instance_type: "string",
    instance_id: "string",
    local_hostname: "string",
    hostname: "string",
    uuid: "string",
    devices: "array",
    public_keys: "string map",
  },
};

/**
 * `value` as CloudInitData, or a PluginError naming the first field Go's json.Unmarshal would
 * refuse (virt-launcher would fail the VM start with an unmarshal error instead). `what` names
 * the document.
 */
export function checkCloudInitData(value: JsonValue, what: string): CloudInitData {
  if (!isJsonObject(value)) throw new PluginError(`${what} is ${describeJson(value)}; expected a CloudInitData object`);
  checkFields(value, CLOUD_INIT_DATA_FIELDS, what, "");
  for (const [field, fields] of Object.entries(METADATA_FIELDS)) {
    const metadata = value[field];
    if (isJsonObject(metadata)) checkFields(metadata, fields, what, `${field}.`);
  }
  return value;
}

function checkFields(object: CloudInitData, fields: Readonly<Record<string, FieldKind>>, what: string, prefix: string): void {
  for (const [field, kind] of Object.entries(fields)) {
    if (!Object.hasOwn(object, field)) continue;
    const value = object[field];
    if (value === null || fits(value, kind)) continue;
    throw new PluginError(`${what}: ${prefix}${field} is ${describeJson(value)}; KubeVirt expects ${kind === "string map" ? "an object of strings" : `a${kind === "array" ? "n" : ""} ${kind}`}`);
  }
}

function fits(value: JsonValue, kind: FieldKind): boolean {
  switch (kind) {
    case "string":
      return typeof value === "string";
    case "object":
      return isJsonObject(value);
    case "array":
      return Array.isArray(value);
    case "string map":
      return isJsonObject(value) && Object.values(value).every((member) => typeof member === "string");
  }
}

/** JSON from bytes, or a PluginError with the line:column of the first error (json-input.ts). */
export function parseJson(bytes: Uint8Array, what: string): JsonValue {
  const value = parseJsonInput(bytes, what);
  if (value instanceof HookCallError) throw new PluginError(value.message);
  return value as JsonValue;
}

function describeJson(value: JsonValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}
