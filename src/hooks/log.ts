// The sidecar's log: one JSON object per line on stderr, in the shape KubeVirt's own
// components log (kubevirt.io/client-go/log: "component", "level", "msg", "timestamp"), so the
// lines read alike next to virt-launcher's in `kubectl logs`. One line when serving starts, one
// per call (method, plugin, bytes in/out, duration, and the status code on error).

import process from "node:process";

export type LogLevel = "info" | "error";

export interface LogLine {
  readonly level: LogLevel;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** Where log lines go; tests and embedders can pass their own to startHookServer. */
export type LogSink = (line: object) => void;

export const COMPONENT = "domsplice";

/** A full line: component and timestamp (RFC 3339, UTC, milliseconds) first, as KubeVirt orders them. */
export function logRecord(line: LogLine): object {
  return { component: COMPONENT, level: line.level, msg: line.msg, timestamp: new Date().toISOString(), ...withoutLevelAndMsg(line) };
}

function withoutLevelAndMsg(line: LogLine): Record<string, unknown> {
  const { level: _level, msg: _msg, ...rest } = line;
  return rest;
}

/**
 * Writes each record as one JSON line on stderr. On Bun through console.error, which writes
 * to fd 2 at once and in order with process.stderr (a lone string argument is written as is):
 * creating process.stderr's stream on a pipe, as a container's stderr is, costs Bun 2-3 ms,
 * which the sidecar's first line would otherwise wait for (bench/probes/ready-marks.ts).
 */
export const stderrLog: LogSink =
  typeof (globalThis as { Bun?: unknown }).Bun === "object"
    ? (record) => console.error(JSON.stringify(record))
    : (record) => {
        process.stderr.write(JSON.stringify(record) + "\n");
      };
