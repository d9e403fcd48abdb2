// What every command of the command line shares: the exit statuses (a contract: 0 success,
// 2 bad input or usage, 1 only for a bug), the one-line usage error that points at the right
// help, and option parsing whose mistakes become such usage errors.

import { parseArgs } from "node:util";
import process from "node:process";

export const EXIT_OK = 0;
export const EXIT_BUG = 1;
export const EXIT_BAD_INPUT = 2;

/** A usage mistake: reported as one line with a pointer to the right help. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly helpCommand: string,
  ) {
    super(message);
  }
}

/** A file that could not be read or written; the message is one line, prefixed by the file. */
export class FileError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

let stdoutGuarded = false;

/**
 * A reader that goes away (`domsplice patch ... | head`) is not an error of ours: EPIPE on
 * stdout is ignored. Called before a command writes to stdout (once is enough); not touched
 * otherwise, as creating the stream costs Bun ~1 ms of start-up.
 */
export function guardStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}

/** Every failure is reported as exactly one line on stderr. */
export function printError(line: string): void {
  process.stderr.write(line + "\n");
}

export type ParsedArgs = ReturnType<typeof parseArgs>;
export type OptionsConfig = NonNullable<Parameters<typeof parseArgs>[0]>["options"];

/** parseArgs with its errors turned into one-line UsageErrors. */
export function parseCommandArgs(command: string, args: string[], options: OptionsConfig, allowPositionals: boolean): ParsedArgs {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const quoted = /'([^']+)'/.exec((error as Error).message)?.[1];
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown option '${quoted ?? "?"}'`, command);
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") throw new UsageError(`unexpected argument '${quoted ?? "?"}'`, command);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const option = /--[\w-]+/.exec(quoted ?? "")?.[0];
      throw new UsageError(`option ${option ? `'${option}' ` : ""}needs a value`, command);
    }
    throw new UsageError((error as Error).message.split("\n")[0], command);
  }
}
