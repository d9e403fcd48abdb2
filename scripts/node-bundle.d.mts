// Types of node-bundle.mjs for the TypeScript files that import it.
import type { BuildOptions } from "esbuild";
export declare const nodeBundleOptions: Readonly<BuildOptions>;
export declare const nodeCliBundleOptions: Readonly<BuildOptions>;
export declare function newestMtime(dir: string): number;
