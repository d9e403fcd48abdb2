// The esbuild options every Node bundle of this repository shares (the package's dist/, the
// benchmark runner, the profiling and CLI-test rebuilds): ESM for Node 20, dependencies left
// as imports, so a bundle measures and ships exactly the project's own code.
export const nodeBundleOptions = Object.freeze({
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
