// Types of what scripts/build-image-artifact.mjs exports (bench/hooks and the probes compile with it).
/** The `bun build` flags that spell dist/domsplice's Bun.build options (before --outfile and the entry). */
export declare const IMAGE_ARTIFACT_BUN_FLAGS: readonly string[];
/** Node built-ins whose top-level requires in @grpc/grpc-js the build makes lazy. */
export declare const LAZY_BUILTINS: readonly string[];
/** Compiles `entry` to the executable `outfile` as dist/domsplice is built; throws when the build fails. */
export declare function compileExecutable(entry: string, outfile: string, target?: string): void;
/** The Bun that builds it: the running Bun, else the devDependency's, else `bun` on PATH. */
export declare function bunBinary(): string;
