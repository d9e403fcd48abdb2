// patch(): compile and apply in one call, for a patch used once. Code that applies the same
// patch to many documents compiles it once with compile() and calls plan.apply().

import { compile, type PatchOp, type PatchOptions } from "./plan.ts";

/** Applies `ops` to `input` in order; returns the same kind (string or bytes) as a fresh value. Throws PatchError. */
export function patch(input: Uint8Array, ops: readonly PatchOp[], options?: PatchOptions): Uint8Array;
export function patch(input: string, ops: readonly PatchOp[], options?: PatchOptions): string;
export function patch(input: Uint8Array | string, ops: readonly PatchOp[], options?: PatchOptions): Uint8Array | string;
export function patch(input: Uint8Array | string, ops: readonly PatchOp[], options?: PatchOptions): Uint8Array | string {
  return compile(ops).apply(input, options);
}
