// What a failed hook call answers: a gRPC status code and a message a KubeVirt admin can act
// on. Errors are values here: the call path (calls.ts) returns a HookCallError instead of
// throwing, the server turns it into the call's status, and `domsplice hook` into one line on
// stderr. The codes are gRPC's own numbers, kept here so `domsplice hook` never loads grpc-js.

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html) the hook calls use. */
export const StatusCode = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const);

export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

const codeNames: Record<number, string> = {
  0: "OK",
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
};

/** "INVALID_ARGUMENT" for 3: how logs and `domsplice hook` name a code. */
export function statusName(code: number): string {
  return codeNames[code] ?? String(code);
}

/**
 * A call that cannot be answered with a result. `plugin` names the plugin that refused or
 * failed, when one did (the message names it too).
 */
export class HookCallError {
  constructor(
    readonly code: StatusCode,
    readonly message: string,
    readonly plugin?: string,
  ) {}

  toString(): string {
    return `${statusName(this.code)}: ${this.message}`;
  }
}
