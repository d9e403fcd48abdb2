// The socket life cycle of `domsplice serve` (src/hooks/socket.ts, src/cli/serve.ts): which
// paths it takes over and which it refuses, and that its socket files never outlive it. The
// in-process part judges prepareSocketPath/removeSocketFile against every kind of file a path
// can hold; the rest runs bin/domsplice as a real child process. The end-to-end tests
// (test/hook-server.test.ts, test/hook-errors.test.ts) cover missing directories, live and
// stale sockets, SIGTERM, SIGINT and Shutdown on all three runtimes; this file adds the cases
// they do not.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { identifySocketFile, prepareSocketPath, removeSocketFile, SocketError } from "../src/hooks/socket.ts";
import { callInfo, ensureNodeBundle, listDirectory, repoRoot } from "./hook-manager.ts";

const domsplice = path.join(repoRoot, "bin", "domsplice");
let scratch: string;

before(async () => {
  await ensureNodeBundle();
  scratch = mkdtempSync(path.join(tmpdir(), "domsplice-socket-"));
});

after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh directory under the scratch directory. */
function freshDirectory(name: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir);
  return dir;
}

/** A unix socket someone listens on, in this process. */
async function listenOn(socketPath: string): Promise<net.Server> {
  const server = net.createServer((connection) => connection.destroy());
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return server;
}

/** A socket file nobody listens on any more, as a SIGKILLed process leaves it. */
function staleSocket(socketPath: string): void {
  const run = spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, "SIGKILL"))`]);
  assert.equal(run.signal, "SIGKILL");
  assert.ok(lstatSync(socketPath).isSocket(), "the killed process left its socket file");
}

describe("prepareSocketPath and removeSocketFile", () => {
  test("a free path in an existing directory is ready as it is", async () => {
    const dir = freshDirectory("free");
    await prepareSocketPath(path.join(dir, "domsplice.sock"));
    assert.deepEqual(listDirectory(dir), []);
  });

  test("a missing directory, or a file where the directory should be, is a SocketError naming it", async () => {
    const dir = freshDirectory("missing");
    await assert.rejects(prepareSocketPath(path.join(dir, "absent", "domsplice.sock")), (error: unknown) => {
      assert.ok(error instanceof SocketError);
      assert.match(error.message, /directory .*absent does not exist/);
      return true;
    });
    writeFileSync(path.join(dir, "plain"), "");
    await assert.rejects(prepareSocketPath(path.join(dir, "plain", "domsplice.sock")), /plain is not a directory/);
  });

  test("a stale socket is removed; a live one and a non-socket file are refused and left alone", async () => {
    const dir = freshDirectory("states");
    const stale = path.join(dir, "stale.sock");
    staleSocket(stale);
    await prepareSocketPath(stale);
    assert.equal(existsSync(stale), false, "the stale socket is gone");

    const live = path.join(dir, "live.sock");
    const server = await listenOn(live);
    try {
      await assert.rejects(prepareSocketPath(live), /another server is already listening on this socket/);
      assert.ok(lstatSync(live).isSocket(), "the live socket stays");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }

    const plain = path.join(dir, "notes.sock");
    writeFileSync(plain, "keep me");
    await assert.rejects(prepareSocketPath(plain), /exists and is not a socket; refusing to replace it/);
    assert.equal(readFileSync(plain, "utf8"), "keep me");
  });

  test("removeSocketFile removes the socket it recorded, but not one that replaced it at the same path", async () => {
    const dir = freshDirectory("identity");
    const socketPath = path.join(dir, "domsplice.sock");
    const first = await listenOn(socketPath);
    const recorded = await identifySocketFile(socketPath);
    await new Promise((resolve) => first.close(resolve));
    rmSync(socketPath, { force: true });
    const second = await listenOn(socketPath);
    try {
      assert.equal(removeSocketFile(recorded), false);
      assert.ok(lstatSync(socketPath).isSocket(), "the newer server's socket stays");
      assert.equal(removeSocketFile(await identifySocketFile(socketPath)), true);
      assert.equal(existsSync(socketPath), false);
    } finally {
      await new Promise((resolve) => second.close(resolve));
    }
  });
});

interface Serving {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Starts bin/domsplice serve ARGS and resolves once it logged "msg":"serving". */
async function serve(args: readonly string[], cwd = repoRoot): Promise<Serving> {
  const child = spawn(domsplice, ["serve", ...args], { cwd, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  child.stderr!.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "serving" line within 15 s; stderr:\n${stderr}`)), 15_000);
    child.stderr!.on("data", (chunk: string) => {
      stderr += chunk;
      if (stderr.includes('"msg":"serving"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before serving; stderr:\n${stderr}`));
    });
  });
  return { child, exited, stderr: () => stderr };
}

/** Runs a serve that must give up at start: exit 2, one line on stderr. */
function refusedServe(args: readonly string[]): string {
  const run = spawnSync(domsplice, ["serve", ...args], { cwd: repoRoot, encoding: "utf8", timeout: 15_000, killSignal: "SIGKILL" });
  assert.equal(run.status, 2, `exit status; stderr:\n${run.stderr}`);
  assert.match(run.stderr, /^[^\n]+\n$/, `one line on stderr: ${JSON.stringify(run.stderr)}`);
  return run.stderr.trimEnd();
}

describe("bin/domsplice serve: sockets at start and at exit", () => {
  test("a regular file at the socket path is refused (exit 2, one line) and left as it was", () => {
    const dir = freshDirectory("file-at-path");
    const socketPath = path.join(dir, "domsplice.sock");
    writeFileSync(socketPath, "not a socket");
    assert.equal(refusedServe(["--plugin", "identity", "--socket", socketPath]), `domsplice serve: ${socketPath}: exists and is not a socket; refusing to replace it`);
    assert.equal(readFileSync(socketPath, "utf8"), "not a socket");
  });

  test("when the plugin socket cannot be bound, the legacy socket bound just before is removed again", () => {
    const hooks = freshDirectory("partial-hooks");
    const missing = path.join(scratch, "partial-absent", "domsplice.sock");
    const line = refusedServe(["--plugin", "identity", "--socket", path.join(hooks, "domsplice.sock"), "--plugin-socket", missing]);
    assert.match(line, /partial-absent does not exist/);
    assert.deepEqual(listDirectory(hooks), []);
  });

  test("the same path for --socket and --plugin-socket is refused", () => {
    const dir = freshDirectory("same-path");
    const socketPath = path.join(dir, "domsplice.sock");
    assert.match(refusedServe(["--socket", socketPath, "--plugin-socket", socketPath]), /must be different paths/);
    assert.deepEqual(listDirectory(dir), []);
  });

  test("bad options are refused before any socket is made: unknown plugin, a plugin twice, a priority that is no int32, an empty name", () => {
    const dir = freshDirectory("bad-options");
    const socketPath = path.join(dir, "domsplice.sock");
    assert.match(refusedServe(["--plugin", "pasta", "--socket", socketPath]), /^domsplice serve: unknown plugin 'pasta' \(known plugins: [^)]*identity[^)]*\); see 'domsplice serve --help'$/);
    assert.match(refusedServe(["--plugin", "identity", "--plugin", "identity", "--socket", socketPath]), /plugin 'identity' is given twice/);
    assert.match(refusedServe(["--priority", "2147483648", "--socket", socketPath]), /--priority must be an integer from -2147483648 to 2147483647 \(got '2147483648'\)/);
    assert.match(refusedServe(["--priority", "high", "--socket", socketPath]), /--priority must be an integer/);
    assert.match(refusedServe(["--name", "", "--socket", socketPath]), /--name must be a non-empty name/);
    assert.deepEqual(listDirectory(dir), []);
  });

  test("SIGHUP stops it like SIGTERM: exit 0, socket gone", async () => {
    const dir = freshDirectory("sighup");
    const sidecar = await serve(["--plugin", "identity", "--socket", path.join(dir, "domsplice.sock")]);
    try {
      sidecar.child.kill("SIGHUP");
      assert.deepEqual(await sidecar.exited, { code: 0, signal: null }, sidecar.stderr());
      assert.deepEqual(listDirectory(dir), []);
      assert.match(sidecar.stderr(), /"msg":"shutting down"[^\n]*"reason":"signal SIGHUP"/);
    } finally {
      sidecar.child.kill("SIGKILL");
    }
  });

  test("a relative --socket is taken from the working directory, logged as an absolute path, and removed at exit", async () => {
    const dir = freshDirectory("relative");
    const sidecar = await serve(["--plugin", "identity", "--socket", "hooks.sock", "--name", "relative-test", "--priority", "-5"], dir);
    try {
      const socketPath = path.join(dir, "hooks.sock");
      assert.match(sidecar.stderr(), new RegExp(`"socket":"${socketPath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"`));
      const info = await callInfo(socketPath);
      assert.equal(info.name, "relative-test");
      assert.deepEqual(info.hookPoints, [
        { name: "OnDefineDomain", priority: -5 },
        { name: "PreCloudInitIso", priority: -5 },
        { name: "Shutdown", priority: -5 },
      ]);
      sidecar.child.kill("SIGTERM");
      assert.deepEqual(await sidecar.exited, { code: 0, signal: null }, sidecar.stderr());
      assert.deepEqual(listDirectory(dir), []);
    } finally {
      sidecar.child.kill("SIGKILL");
    }
  });

  test("with no plugin chosen, Info lists only Shutdown, so virt-launcher calls nothing else", async () => {
    const dir = freshDirectory("no-plugins");
    const sidecar = await serve(["--socket", path.join(dir, "domsplice.sock")]);
    try {
      const info = await callInfo(path.join(dir, "domsplice.sock"));
      assert.deepEqual(info.hookPoints, [{ name: "Shutdown", priority: 0 }]);
      assert.deepEqual(info.versions, ["v1alpha1", "v1alpha2", "v1alpha3"]);
    } finally {
      sidecar.child.kill("SIGTERM");
      await sidecar.exited;
    }
  });
});
