// The life cycle of a hook socket file: before binding, make sure the path can be ours (its
// directory exists, nothing but a stale socket of a dead process is in the way); after the
// server stops, remove it, but only if it is still the file we created. A kubelet restarting
// the sidecar container leaves the old socket behind, which virt-launcher would keep dialing.

// The file system calls are synchronous: each takes microseconds, and at start-up nothing else
// is waiting, while every await of node:fs/promises costs a round of the event loop (and the
// module itself ~0.5 ms to load in Bun) before the sidecar can serve.

import { connect } from "node:net";
import { lstatSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";

/** Why a socket path cannot be served; the CLI prints the message and exits 2. */
export class SocketError extends Error {
  override readonly name = "SocketError";
  constructor(
    readonly socket: string,
    readonly reason: string,
  ) {
    super(`${socket}: ${reason}`);
  }
}

/**
 * Identity of the socket file a server created, so cleanup never removes someone else's. The
 * inode alone is not enough: tmpfs hands a freed inode number to the next file at once, so the
 * change time (nanoseconds) is part of it.
 */
export interface SocketFile {
  readonly path: string;
  readonly device: bigint;
  readonly inode: bigint;
  readonly changedNs: bigint;
}

/**
 * Makes `socketPath` ready to bind: the directory must exist; a stale socket (nobody accepts
 * on it: ECONNREFUSED) is removed; a live one, or a file that is not a socket, is refused.
 */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  const directory = path.dirname(socketPath);
  try {
    const info = statSync(directory);
    if (!info.isDirectory()) throw new SocketError(socketPath, `${directory} is not a directory`);
  } catch (error) {
    if (error instanceof SocketError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new SocketError(socketPath, `directory ${directory} does not exist (create it, or mount the hooks directory there)`);
    throw new SocketError(socketPath, `cannot use directory ${directory}: ${reasonOf(error)}`);
  }

  let existing;
  try {
    existing = lstatSync(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new SocketError(socketPath, `cannot inspect: ${reasonOf(error)}`);
  }
  if (!existing.isSocket()) throw new SocketError(socketPath, "exists and is not a socket; refusing to replace it");

  const state = await probe(socketPath);
  if (state === "live") throw new SocketError(socketPath, "another server is already listening on this socket; refusing to take it over");
  if (state === "stale") {
    try {
      unlinkSync(socketPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new SocketError(socketPath, `cannot remove the stale socket: ${reasonOf(error)}`);
    }
  }
}

/** "live" when something accepts a connection, "stale" when nobody listens, "gone" if it vanished. */
function probe(socketPath: string): Promise<"live" | "stale" | "gone"> {
  return new Promise((resolve, reject) => {
    const connection = connect({ path: socketPath });
    connection.once("connect", () => {
      connection.destroy();
      resolve("live");
    });
    connection.once("error", (error: NodeJS.ErrnoException) => {
      connection.destroy();
      if (error.code === "ECONNREFUSED") resolve("stale");
      else if (error.code === "ENOENT") resolve("gone");
      else reject(new SocketError(socketPath, `cannot tell whether a server is listening: ${reasonOf(error)}`));
    });
  });
}

/** Records which file the server just bound, for removeSocketFile. */
export async function identifySocketFile(socketPath: string): Promise<SocketFile> {
  const info = lstatSync(socketPath, { bigint: true });
  return { path: socketPath, device: info.dev, inode: info.ino, changedNs: info.ctimeNs };
}

/**
 * Removes the socket file if it is still the one recorded (synchronous, so it also works from a
 * process 'exit' handler). Returns whether it removed it.
 */
export function removeSocketFile(file: SocketFile): boolean {
  try {
    const info = lstatSync(file.path, { bigint: true });
    if (!info.isSocket() || info.dev !== file.device || info.ino !== file.inode || info.ctimeNs !== file.changedNs) return false;
    unlinkSync(file.path);
    return true;
  } catch {
    return false;
  }
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const match = /^[A-Z]+: ([^,]+)/.exec(message);
  return (match ? match[1] : message.split("\n")[0]).trim();
}
