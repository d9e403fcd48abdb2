// The exec plugin: a drop-in for KubeVirt's sidecar-shim (kubevirt cmd/sidecars/sidecar_shim.go).
// It runs the same user executables with the same contract, so a hookSidecars entry that
// used the shim image with a ConfigMap of scripts can use domsplice instead:
//   onDefineDomain  --vmi <VMI JSON> --domain <domain XML>       -> the new domain XML on stdout
//   preCloudInitIso --vmi <VMI JSON> --cloud-init <CloudInitData> -> the new CloudInitData JSON
// The executables are looked up once, when the plugin is made: in the directory of the
// `hooks-dir` setting (a ConfigMap mount) or, without it, on PATH as the shim does; the plugin
// subscribes only to the hook points whose executable exists (the shim's Info does the same).
//
// What it adds to the shim: a time limit per call (`hook-timeout`, seconds, default 30; the shim
// has none, so a hung script held virt-launcher's call until its 1-minute deadline), the
// script's stderr logged line by line (the shim drops it), errors that name the script, its
// exit status and its last stderr line, and the output checked before it reaches virt-launcher:
// well-formed XML (line:column of the first error) or CloudInitData with KubeVirt's field types.
//
// Children are spawned without a shell (node:child_process works on Node, Bun and Deno), with
// the sidecar's environment and stdin from /dev/null, like Go's exec.Command.

import { spawn, type ChildProcess } from "node:child_process";
import { Buffer } from "node:buffer";
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { check } from "../xml/check.ts";
import { logRecord, stderrLog, type LogSink } from "../hooks/log.ts";
import { checkCloudInitData, cloudInitDataOf, noCloudSourceFor, parseJson } from "./cloud-init.ts";
import { PluginError, type CloudInitContext, type CloudInitResult, type DomainHookContext, type HookPointName, type Plugin, type PluginFactory, type PluginOptions } from "./types.ts";

/** The executables sidecar-shim looks for, by the hook point each serves. */
export const HOOK_EXECUTABLES: Readonly<Record<HookPointName, string>> = {
  OnDefineDomain: "onDefineDomain",
  PreCloudInitIso: "preCloudInitIso",
};

/** Seconds a script may run when `hook-timeout` is not set: well under virt-launcher's 1 min per call. */
export const DEFAULT_HOOK_TIMEOUT_SECONDS = 30;

/** The most a script may print on stdout: the hook server's own message limit. */
const MAX_STDOUT_BYTES = 16 * 1024 * 1024;
/** A longer stderr line is cut in the log (a script printing a blob must not flood it). */
const MAX_LOGGED_LINE_CHARS = 4096;
/** How long a killed child gets to be reaped before the call gives up on it. */
const KILL_GRACE_MS = 2_000;

export const createExecPlugin: PluginFactory = (options) => makeExecPlugin(options);

/**
 * The plugin, with the log sink for the scripts' stderr (tests pass their own). Throws
 * PluginError naming the setting when `hooks-dir` or `hook-timeout` is unusable, or when no
 * executable is found at all (a sidecar that would subscribe to nothing is a mistake).
 */
export function makeExecPlugin(options: PluginOptions, log: LogSink = stderrLog): Plugin {
  const timeoutMs = hookTimeoutMs(options.get("hook-timeout"));
  const hooksDir = options.get("hooks-dir");
  const found = hooksDir !== undefined && hooksDir !== "" ? findInHooksDir(hooksDir) : findOnPath(process.env.PATH ?? "");
  const hookPoints = (Object.keys(HOOK_EXECUTABLES) as HookPointName[]).filter((point) => found[point] !== undefined);
  if (hookPoints.length === 0) {
    const where = hooksDir ? `hooks-dir ${hooksDir}` : `PATH (${process.env.PATH ?? ""}); set the hooks-dir option (DOMSPLICE_HOOKS_DIR) to a directory of scripts`;
    throw new PluginError(`no ${Object.values(HOOK_EXECUTABLES).join(" or ")} executable in ${where}`);
  }

  const plugin: { -readonly [K in keyof Plugin]: Plugin[K] } = { name: "exec", hookPoints };
  const onDefineDomainScript = found.OnDefineDomain;
  if (onDefineDomainScript !== undefined) {
    plugin.onDefineDomain = async (context: DomainHookContext): Promise<Uint8Array> => {
      const stdout = await runScript(onDefineDomainScript, ["--vmi", text(context.vmiJson), "--domain", text(context.domainXml)], timeoutMs, log);
      if (stdout.length === 0) throw new PluginError(`${onDefineDomainScript} printed nothing on stdout; it must print the domain XML`);
      if (sameBytes(stdout, context.domainXml)) return context.domainXml;
      const verdict = check(stdout);
      if (!verdict.ok) {
        const { line, column, message } = verdict.error;
        throw new PluginError(`${onDefineDomainScript} printed malformed domain XML at line ${line}, column ${column}: ${message}`);
      }
      return stdout;
    };
  }
  const preCloudInitIsoScript = found.PreCloudInitIso;
  if (preCloudInitIsoScript !== undefined) {
    plugin.preCloudInitIso = async (context: CloudInitContext): Promise<CloudInitResult> => {
      // sidecar-shim passes CloudInitData only and answers with CloudInitData only; the legacy
      // CloudInitNoCloudSource is kept in step here so virt-launcher reads the same either way.
      const sent = cloudInitDataOf(context);
      const stdout = await runScript(preCloudInitIsoScript, ["--vmi", text(context.vmiJson), "--cloud-init", text(sent.json)], timeoutMs, log);
      if (stdout.length === 0) throw new PluginError(`${preCloudInitIsoScript} printed nothing on stdout; it must print the CloudInitData JSON`);
      const data = checkCloudInitData(parseJson(stdout, `CloudInitData JSON printed by ${preCloudInitIsoScript}`), `CloudInitData printed by ${preCloudInitIsoScript}`);
      if (sameBytes(stdout, context.cloudInitData)) return { cloudInitData: context.cloudInitData, cloudInitNoCloudSource: context.cloudInitNoCloudSource };
      return { cloudInitData: stdout, cloudInitNoCloudSource: noCloudSourceFor(context.cloudInitNoCloudSource, data) };
    };
  }
  return plugin;
}

// ---------------------------------------------------------------- settings and lookup

function hookTimeoutMs(setting: string | undefined): number {
  if (setting === undefined || setting === "") return DEFAULT_HOOK_TIMEOUT_SECONDS * 1000;
  // Plain seconds, as the shim's users think of it; a Go-style trailing "s" is accepted too.
  const match = /^\s*(\d+(?:\.\d+)?)s?\s*$/.exec(setting);
  const seconds = match ? Number(match[1]) : NaN;
  if (!(seconds > 0) || seconds > 3600) throw new PluginError(`option hook-timeout: '${setting}' is not a number of seconds between 0 and 3600 (default ${DEFAULT_HOOK_TIMEOUT_SECONDS})`);
  return Math.round(seconds * 1000);
}

type FoundScripts = Partial<Record<HookPointName, string>>;

/**
 * The configured directory (meant for a ConfigMap mount, whose files are symlinks into ..data).
 * A script that is there but not executable is a mistake worth stopping for: the ConfigMap
 * volume needs `defaultMode: 0755` (the shim would silently not subscribe).
 */
function findInHooksDir(hooksDir: string): FoundScripts {
  const dir = path.resolve(hooksDir);
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    throw new PluginError(`option hooks-dir: ${dir} is not readable (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  if (!isDirectory) throw new PluginError(`option hooks-dir: ${dir} is not a directory`);
  const found: FoundScripts = {};
  for (const [point, name] of Object.entries(HOOK_EXECUTABLES) as [HookPointName, string][]) {
    const candidate = path.join(dir, name);
    if (!isFile(candidate)) continue;
    if (!isExecutable(candidate)) throw new PluginError(`option hooks-dir: ${candidate} is not executable (mount the ConfigMap with defaultMode: 0755, or chmod +x it)`);
    found[point] = candidate;
  }
  return found;
}

/**
 * Go's exec.LookPath, as the shim calls it: the first PATH directory holding an executable
 * regular file of that name. Relative PATH entries are skipped (Go refuses what they find,
 * exec.ErrDot, and the shim then does not subscribe).
 */
function findOnPath(searchPath: string): FoundScripts {
  const found: FoundScripts = {};
  const dirs = searchPath.split(path.delimiter).filter((dir) => path.isAbsolute(dir));
  for (const [point, name] of Object.entries(HOOK_EXECUTABLES) as [HookPointName, string][]) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (isFile(candidate) && isExecutable(candidate)) {
        found[point] = candidate;
        break;
      }
    }
  }
  return found;
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- running a script

/**
 * Runs `script ARGS`, logs its stderr line by line, and resolves with its stdout once it exited
 * 0 and closed its output. Throws PluginError when it cannot start, exits non-zero, dies of a
 * signal, prints too much, or outlives `timeoutMs` (then it is killed, with its process group:
 * a shell script's own children go too).
 */
function runScript(script: string, args: readonly string[], timeoutMs: number, log: LogSink): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    let child: ChildProcess;
    try {
      // detached: the child leads its own process group, so a timeout can kill the whole group.
      child = spawn(script, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    } catch (error) {
      reject(cannotStart(script, args, error));
      return;
    }

    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let lastStderrLine = "";
    let pendingStderr = "";
    let settled = false;
    let failure: PluginError | undefined;

    const logLine = (line: string): void => {
      const msg = line.length > MAX_LOGGED_LINE_CHARS ? `${line.slice(0, MAX_LOGGED_LINE_CHARS)}...` : line;
      if (msg.trim() !== "") lastStderrLine = msg;
      log(logRecord({ level: "info", msg, plugin: "exec", script, stream: "stderr" }));
    };
    const finish = (outcome: PluginError | Uint8Array): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome instanceof PluginError) reject(outcome);
      else resolve(outcome);
    };
    /** Kills the group, and gives up waiting if the children do not go away. */
    const stop = (reason: PluginError): void => {
      if (failure !== undefined || settled) return;
      failure = reason;
      killGroup(child);
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(reason);
      }, KILL_GRACE_MS).unref();
    };

    const timer = setTimeout(() => stop(new PluginError(`${script} did not finish within ${timeoutMs / 1000} s (option hook-timeout) and was killed${lastLineNote()}`)), timeoutMs);
    const lastLineNote = (): string => (lastStderrLine === "" ? "" : `; last stderr line: ${lastStderrLine}`);

    child.stdout!.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_STDOUT_BYTES) {
        stop(new PluginError(`${script} printed more than ${MAX_STDOUT_BYTES / (1024 * 1024)} MiB on stdout and was killed`));
        return;
      }
      stdout.push(chunk);
    });
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      pendingStderr += chunk;
      let newline: number;
      while ((newline = pendingStderr.indexOf("\n")) >= 0) {
        logLine(pendingStderr.slice(0, newline).replace(/\r$/, ""));
        pendingStderr = pendingStderr.slice(newline + 1);
      }
      // A line that never ends is logged (cut) once it is long enough, not kept growing.
      if (pendingStderr.length > MAX_LOGGED_LINE_CHARS) {
        logLine(pendingStderr);
        pendingStderr = "";
      }
    });
    child.on("error", (error) => finish(cannotStart(script, args, error)));
    // 'close': exited and both pipes at end, as Go's cmd.Output() waits for.
    child.on("close", (code, signal) => {
      if (pendingStderr !== "") logLine(pendingStderr);
      pendingStderr = "";
      if (failure !== undefined) return finish(failure);
      if (code === 0) return finish(new Uint8Array(Buffer.concat(stdout, stdoutBytes)));
      const how = code !== null ? `exited with status ${code}` : `was killed by ${signal}`;
      finish(new PluginError(`${script} ${how}${lastLineNote()}`));
    });
  });
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // No group of its own (a runtime without `detached`): the child alone.
    child.kill("SIGKILL");
  }
}

function cannotStart(script: string, args: readonly string[], error: unknown): PluginError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "E2BIG") {
    const longest = Math.max(...args.map((arg) => Buffer.byteLength(arg)));
    return new PluginError(`cannot run ${script}: its arguments are too long for exec (E2BIG; the longest is ${longest} bytes, Linux allows 128 KiB per argument, as for sidecar-shim)`);
  }
  return new PluginError(`cannot run ${script}: ${code ?? (error instanceof Error ? error.message : String(error))}`, { cause: error });
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
