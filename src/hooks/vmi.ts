// The VMI view plugins get: the VirtualMachineInstance JSON virt-launcher sends with every
// call, parsed once per call (never once per plugin). It must be a JSON object; anything else
// is a HookCallError INVALID_ARGUMENT that says what came instead.

import type { Vmi } from "../plugins/types.ts";
import { HookCallError, StatusCode } from "./call-error.ts";
import { parseJsonInput } from "./json-input.ts";

export function parseVmi(vmiJson: Uint8Array): Vmi | HookCallError {
  if (vmiJson.length === 0) return new HookCallError(StatusCode.INVALID_ARGUMENT, "empty VMI JSON (virt-launcher sends the VirtualMachineInstance as JSON)");
  const vmi = parseJsonInput(vmiJson, "VMI JSON");
  if (vmi instanceof HookCallError) return vmi;
  if (vmi === null || typeof vmi !== "object" || Array.isArray(vmi)) {
    return new HookCallError(StatusCode.INVALID_ARGUMENT, `VMI JSON is ${describe(vmi)}; expected a VirtualMachineInstance object`);
  }
  return vmi as Vmi;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}
