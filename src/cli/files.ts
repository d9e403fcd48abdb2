// File I/O for the command line, the only place besides cli.ts that touches node:fs: reading
// whole inputs (files or stdin) as bytes, and writing an output file atomically (a temporary
// file in the same directory, renamed over the target only once it is complete), so a failed
// run never leaves a partial or truncated output behind.

import { open, readFile, rename, stat, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import process from "node:process";
import { Buffer } from "node:buffer";
import { FileError } from "./usage.ts";

/** "no such file or directory" from "ENOENT: no such file or directory, open 'x'". */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const match = /^[A-Z]+: ([^,]+)/.exec(message);
  return (match ? match[1] : message.split("\n")[0]).trim();
}

export async function readInputFile(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new FileError(file, `cannot read: ${reasonOf(error)}`);
  }
}

export async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Writes `bytes` to `file` atomically. An existing file keeps its permission bits; the data is
 * flushed to disk before the rename so a crash leaves either the old file or the new one.
 */
export async function writeFileAtomically(file: string, bytes: Uint8Array): Promise<void> {
  let mode = 0o666;
  try {
    const existing = await stat(file);
    if (existing.isDirectory()) throw new FileError(file, "cannot write: is a directory");
    mode = existing.mode & 0o7777;
  } catch (error) {
    if (error instanceof FileError) throw error;
    // No file yet: it is created with the default mode (minus umask).
  }
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  let handle;
  try {
    handle = await open(temporary, "wx", mode);
  } catch (error) {
    throw new FileError(file, `cannot write: ${reasonOf(error)}`);
  }
  try {
    await handle.writeFile(bytes);
    if (mode !== 0o666) await handle.chmod(mode);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, file);
  } catch (error) {
    await handle?.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    throw new FileError(file, `cannot write: ${reasonOf(error)}`);
  }
}

/** Writes to stdout and resolves once the bytes are handed to the OS (or stdout is gone). */
export function writeStdout(bytes: Uint8Array | string): Promise<void> {
  return new Promise((resolve) => {
    process.stdout.write(bytes, () => resolve());
  });
}
