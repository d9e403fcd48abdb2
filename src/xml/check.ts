// check(): is this document well-formed? The same judgement as tokenize(), without handing out
// the token table. Strings are encoded to UTF-8 (their declared encoding is then moot); bytes starting with a UTF-16 byte order mark
// are transcoded to UTF-8 first (encoding.ts), so error offsets then count UTF-8 bytes.

import type { XmlError } from "./errors.ts";
import { textToUtf8, toUtf8 } from "./encoding.ts";
import { tokenizeLent, type TokenizeOptions } from "./tokenizer.ts";
import { releaseLentTable, wasmTableLent } from "./wasm.ts";

export type CheckResult = { ok: true } | { ok: false; error: XmlError };

export function check(input: Uint8Array | string, options?: TokenizeOptions): CheckResult {
  const bytes = typeof input === "string" ? textToUtf8(input) : toUtf8(input).utf8;
  // The table is only looked at for its verdict, so it is borrowed from the WASM kernel's memory
  // instead of copied out (a 1 MB domain's table is ~1.4 MB of garbage per check otherwise);
  // a loan some caller already holds is left to that caller.
  const alreadyLent = wasmTableLent();
  try {
    const result = tokenizeLent(bytes, options);
    return result.ok ? { ok: true } : { ok: false, error: result.error };
  } finally {
    if (!alreadyLent) releaseLentTable();
  }
}
