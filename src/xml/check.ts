// check(): is this document well-formed? The same judgement as tokenize(), without handing out
// the token table. Strings are taken as text and encoded to UTF-8 first.

import type { XmlError } from "./errors.ts";
import { tokenize, type TokenizeOptions } from "./tokenizer.ts";

export type CheckResult = { ok: true } | { ok: false; error: XmlError };

const encoder = new TextEncoder();

export function check(input: Uint8Array | string, options?: TokenizeOptions): CheckResult {
  const bytes = typeof input === "string" ? encoder.encode(input) : input;
  const result = tokenize(bytes, options);
  return result.ok ? { ok: true } : { ok: false, error: result.error };
}
