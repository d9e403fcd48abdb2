// JSON Merge Patch (RFC 7386): how the cloud-init plugin applies a VMI annotation to KubeVirt's
// CloudInitData. Written here rather than taken from a package because the whole algorithm is
// the RFC's ten-line pseudocode, its semantics are exact and small (null deletes a member, an
// object merges member by member, anything else, arrays included, replaces), and a dependency
// would add more code to audit than it saves.

/** A value JSON.parse can return. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [member: string]: JsonValue };

/**
 * `target` with `patch` merged in, per RFC 7386 section 2 (MergePatch(Target, Patch)). Neither
 * argument is modified; unchanged members are shared with `target`. Applying the same patch
 * twice gives the same result as applying it once.
 */
export function applyMergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isJsonObject(patch)) return patch;
  const merged: { [member: string]: JsonValue } = isJsonObject(target) ? copyMembers(target) : {};
  for (const member of Object.keys(patch)) {
    const value = patch[member];
    if (value === null) {
      delete merged[member];
      continue;
    }
    const current = Object.hasOwn(merged, member) ? merged[member] : undefined;
    // defineProperty, not assignment: a member named "__proto__" (JSON.parse makes it an own
    // property) must stay a member instead of replacing the object's prototype.
    Object.defineProperty(merged, member, { value: applyMergePatch(current, value), enumerable: true, writable: true, configurable: true });
  }
  return merged;
}

export function isJsonObject(value: JsonValue | undefined): value is { [member: string]: JsonValue } {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function copyMembers(source: { [member: string]: JsonValue }): { [member: string]: JsonValue } {
  const copy: { [member: string]: JsonValue } = {};
  for (const member of Object.keys(source)) {
    Object.defineProperty(copy, member, { value: source[member], enumerable: true, writable: true, configurable: true });
  }
  return copy;
}
