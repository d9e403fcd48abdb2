// Plugin settings (src/plugins/options.ts): `--option KEY=VALUE` wins over DOMSPLICE_<KEY>,
// malformed flags are refused, and serve/hook turn both into one-line usage errors.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { optionEnvName, PluginOptionError, pluginOptions } from "../src/plugins/options.ts";
import { ensureNodeBundle } from "./hook-manager.ts";

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

before(ensureNodeBundle);

describe("plugin options", () => {
  test("a flag wins over the environment, which is read as DOMSPLICE_<KEY>", () => {
    const env = { DOMSPLICE_POLICY: "/env/policy.yaml", DOMSPLICE_HOOK_TIMEOUT: "5" };
    const options = pluginOptions(["policy=/flag/policy.yaml", "empty="], env);
    assert.equal(options.get("policy"), "/flag/policy.yaml");
    assert.equal(options.get("hook-timeout"), "5");
    assert.equal(options.get("empty"), "", "an empty value is a value");
    assert.equal(options.get("absent"), undefined);
    assert.equal(options.get("value-with=equals"), undefined);
    assert.equal(pluginOptions(["a=b=c"], {}).get("a"), "b=c", "only the first '=' splits");
  });

  test("the environment name upper-cases the key and turns '-' and '.' into '_'", () => {
    assert.equal(optionEnvName("resolv-conf"), "DOMSPLICE_RESOLV_CONF");
    assert.equal(optionEnvName("exec.dir"), "DOMSPLICE_EXEC_DIR");
  });

  test("a flag without '=', with an empty key or given twice is refused", () => {
    assert.throws(() => pluginOptions(["policy"], {}), (e: unknown) => e instanceof PluginOptionError && /'policy' is not KEY=VALUE/.test(e.message));
    assert.throws(() => pluginOptions(["=x"], {}), PluginOptionError);
    assert.throws(() => pluginOptions(["a=1", "a=2"], {}), /--option a is given twice/);
  });

  test("domsplice hook reports a malformed --option as one usage line, exit 2", () => {
    const run = spawnSync(path.join(repoRoot, "bin", "domsplice"), ["hook", "--plugin", "identity", "--option", "nokey", "--vmi", "{}", "--domain", "<domain/>"], { cwd: repoRoot, encoding: "utf8" });
    assert.equal(run.status, 2);
    assert.equal(run.stdout, "");
    assert.match(run.stderr, /^domsplice hook: --option 'nokey' is not KEY=VALUE.*\n$/);
  });
});
