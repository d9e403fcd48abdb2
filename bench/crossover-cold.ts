// One tokenize() call in a fresh process (argv: kernel, size label), as a hook sidecar or the
// CLI would make it: no JIT warm-up and, for "wasm", the module compiled on this call.
// Prints the microseconds taken. Run by bench/crossover.ts.

import { readFileSync } from "node:fs";
import { tokenize } from "../src/xml/tokenizer.ts";
import { crossoverInputs } from "./crossover-inputs.ts";

const [kernel, label] = process.argv.slice(2) as ["ts" | "wasm", string];
const input = crossoverInputs(readFileSync).find((i) => i.label === label);
if (!input) throw new Error(`no input ${label}`);
const start = performance.now();
const result = tokenize(input.bytes, { kernel });
const micros = Math.round((performance.now() - start) * 1000);
if (!result.ok) throw new Error(result.error.message);
console.log(micros);
