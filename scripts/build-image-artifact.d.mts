// Types of what scripts/build-image-artifact.mjs exports (bench/hooks compiles with its flags).
/** The `bun build` flags dist/domsplice is built with (before --outfile and the entry). */
export declare const IMAGE_ARTIFACT_BUN_FLAGS: readonly string[];
/** The Bun that builds it: the running Bun, else the devDependency's, else `bun` on PATH. */
export declare function bunBinary(): string;
