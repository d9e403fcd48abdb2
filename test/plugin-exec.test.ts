// The exec plugin, sidecar-shim's drop-in: real #!/bin/sh scripts named onDefineDomain and
// preCloudInitIso in a temporary directory (as a ConfigMap mount) or on PATH, run with the
// shim's exact arguments on KubeVirt's own domain; their stdout is the answer, their stderr is
// logged, and every way a script can go wrong (exit status, signal, time limit, malformed or
// empty output, too much output, too-long arguments) is a refusal naming the script. Calls go
// through calls.ts, the path serve and hook share; one run each through bin/domsplice hook and
// through `domsplice serve` with virt-launcher's client (test/hook-manager.ts).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { HookCallError, StatusCode } from "../src/hooks/call-error.ts";
import { defineDomain, prepareCloudInit } from "../src/hooks/calls.ts";
import { DEFAULT_HOOK_TIMEOUT_SECONDS, makeExecPlugin } from "../src/plugins/exec.ts";
import { pluginOptions } from "../src/plugins/options.ts";
import { loadPlugins } from "../src/plugins/registry.ts";
import { PluginError, type Plugin } from "../src/plugins/types.ts";
import { corpus } from "./corpus-files.ts";
import { callInfo, callOnDefineDomain, cloudInitData, cloudInitDataFromResult, ensureNodeBundle, repoRoot, startSidecar, vmiJson } from "./hook-manager.ts";
import { schemaValidKubevirtDomain, validateDomain } from "./libvirt-schema.ts";

const domainXml = new Uint8Array(readFileSync(path.join(corpus, "kubevirt", "domain.xml")));
const vmiBytes = new TextEncoder().encode(vmiJson);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

let scratch: string;
before(() => {
  scratch = mkdtempSync(path.join(tmpdir(), "domsplice-plugin-exec-"));
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

let dirCount = 0;
/** A fresh directory holding `scripts` (name -> shell body after the #!/bin/sh line), 0755. */
function hooksDir(scripts: Record<string, string>, mode = 0o755): string {
  const dir = path.join(scratch, `hooks-${++dirCount}`);
  mkdirSync(dir);
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(dir, name), mode);
  }
  return dir;
}

interface Logged {
  readonly plugin: Plugin;
  readonly logs: Record<string, unknown>[];
}

function execPlugin(dir: string, settings: Record<string, string> = {}): Logged {
  const logs: Record<string, unknown>[] = [];
  const all: Record<string, string> = { "hooks-dir": dir, ...settings };
  const plugin = makeExecPlugin({ get: (key) => all[key] }, (record) => logs.push(record as Record<string, unknown>));
  return { plugin, logs };
}

async function onDefineDomain(plugin: Plugin, domain: Uint8Array = domainXml): Promise<Uint8Array | HookCallError> {
  const outcome = await defineDomain({ plugins: [plugin], env: {} }, { domainXml: domain, vmiJson: vmiBytes });
  return outcome instanceof HookCallError ? outcome : outcome.domainXml;
}

function refusal(outcome: Uint8Array | HookCallError): string {
  if (!(outcome instanceof HookCallError)) return assert.fail(`expected a refusal, got ${decode(outcome).slice(0, 200)}`);
  assert.equal(outcome.code, StatusCode.FAILED_PRECONDITION, outcome.message);
  return outcome.message;
}

// sidecar-shim's arguments: $1 --vmi, $2 the VMI JSON, $3 --domain or --cloud-init, $4 the document.
const ECHO_DOMAIN = `printf '%s' "$4"`;
// Adds a watchdog unless there is one (an idempotent script, as virt-launcher may call twice).
const ADD_WATCHDOG = `case "$4" in
  *'<watchdog'*) printf '%s' "$4" ;;
  *) printf '%s' "$4" | sed 's#</devices>#<watchdog model="i6300esb" action="reset"/></devices>#' ;;
esac`;
const withWatchdog = (domain: Uint8Array) => decode(domain).replace("</devices>", '<watchdog model="i6300esb" action="reset"/></devices>');

// ---------------------------------------------------------------------------------------------

describe("exec: which hook points it subscribes to", () => {
  const cases: readonly { name: string; layout: (dir: string) => void; hookPoints: readonly string[] }[] = [
    { name: "onDefineDomain only -> OnDefineDomain only", layout: (dir) => script(dir, "onDefineDomain"), hookPoints: ["OnDefineDomain"] },
    { name: "preCloudInitIso only -> PreCloudInitIso only", layout: (dir) => script(dir, "preCloudInitIso"), hookPoints: ["PreCloudInitIso"] },
    {
      name: "both -> both",
      layout: (dir) => {
        script(dir, "onDefineDomain");
        script(dir, "preCloudInitIso");
      },
      hookPoints: ["OnDefineDomain", "PreCloudInitIso"],
    },
    {
      name: "a ConfigMap mount (symlinks into ..data) -> both",
      layout: (dir) => {
        mkdirSync(path.join(dir, "..2026_11_28_05_00_00.000000001"));
        script(path.join(dir, "..2026_11_28_05_00_00.000000001"), "onDefineDomain");
        script(path.join(dir, "..2026_11_28_05_00_00.000000001"), "preCloudInitIso");
        symlinkSync("..2026_11_28_05_00_00.000000001", path.join(dir, "..data"));
        symlinkSync("..data/onDefineDomain", path.join(dir, "onDefineDomain"));
        symlinkSync("..data/preCloudInitIso", path.join(dir, "preCloudInitIso"));
      },
      hookPoints: ["OnDefineDomain", "PreCloudInitIso"],
    },
    {
      name: "a directory named onDefineDomain is not an executable",
      layout: (dir) => {
        mkdirSync(path.join(dir, "onDefineDomain"));
        script(dir, "preCloudInitIso");
      },
      hookPoints: ["PreCloudInitIso"],
    },
  ];
  for (const { name, layout, hookPoints } of cases) {
    test(name, () => {
      const dir = hooksDir({});
      layout(dir);
      const { plugin } = execPlugin(dir);
      assert.deepEqual(plugin.hookPoints, hookPoints);
      assert.equal(plugin.onDefineDomain !== undefined, hookPoints.includes("OnDefineDomain"), "an OnDefineDomain handler only when subscribed");
      assert.equal(plugin.preCloudInitIso !== undefined, hookPoints.includes("PreCloudInitIso"), "a PreCloudInitIso handler only when subscribed");
    });
  }

  test("hooks-dir from --option and from DOMSPLICE_HOOKS_DIR, through the registry", async () => {
    const dir = hooksDir({ onDefineDomain: ECHO_DOMAIN });
    const [fromFlag] = await loadPlugins(["exec"], pluginOptions([`hooks-dir=${dir}`], {}));
    const [fromEnv] = await loadPlugins(["exec"], pluginOptions([], { DOMSPLICE_HOOKS_DIR: dir }));
    assert.deepEqual(fromFlag.hookPoints, ["OnDefineDomain"]);
    assert.deepEqual(fromEnv.hookPoints, ["OnDefineDomain"]);
  });

  function script(dir: string, name: string): void {
    writeFileSync(path.join(dir, name), "#!/bin/sh\nexit 0\n");
    chmodSync(path.join(dir, name), 0o755);
  }
});

describe("exec: finding scripts on PATH when no hooks-dir is set (Go's exec.LookPath)", () => {
  let savedPath: string | undefined;
  before(() => {
    savedPath = process.env.PATH;
  });
  after(() => {
    process.env.PATH = savedPath;
  });

  test("the first absolute PATH directory with an executable file wins; non-executable files and relative entries are passed over", async () => {
    const relative = hooksDir({ onDefineDomain: `echo relative >&2; exit 9` });
    const notExecutable = hooksDir({ onDefineDomain: `exit 9` }, 0o644);
    const first = hooksDir({ onDefineDomain: ADD_WATCHDOG });
    const second = hooksDir({ onDefineDomain: `exit 9`, preCloudInitIso: `exit 9` });
    process.env.PATH = [path.relative(process.cwd(), relative), notExecutable, first, second, savedPath].join(path.delimiter);
    const { plugin } = execPlugin("");
    assert.deepEqual(plugin.hookPoints, ["OnDefineDomain", "PreCloudInitIso"]);
    const output = await onDefineDomain(plugin);
    assert.equal(decode(output as Uint8Array), withWatchdog(domainXml), "ran the script of the first directory that has an executable one");
  });

  test("nothing on PATH: the factory refuses, naming PATH and the hooks-dir option", () => {
    process.env.PATH = hooksDir({});
    assert.throws(() => execPlugin(""), (error: unknown) => {
      assert.ok(error instanceof PluginError);
      assert.match(error.message, /^no onDefineDomain or preCloudInitIso executable in PATH \(.*\); set the hooks-dir option \(DOMSPLICE_HOOKS_DIR\) to a directory of scripts$/);
      return true;
    });
  });
});

describe("exec: settings an admin gets wrong are refused when the plugin is made", () => {
  const cases: readonly { name: string; dir: () => string; settings?: Record<string, string>; message: RegExp }[] = [
    { name: "hooks-dir missing", dir: () => path.join(scratch, "no-such-dir"), message: /^option hooks-dir: .*no-such-dir is not readable \(ENOENT\)$/ },
    {
      name: "hooks-dir is a file",
      dir: () => {
        const file = path.join(scratch, "a-file");
        writeFileSync(file, "");
        return file;
      },
      message: /^option hooks-dir: .*a-file is not a directory$/,
    },
    { name: "hooks-dir with neither script", dir: () => hooksDir({ README: "exit 0" }), message: /^no onDefineDomain or preCloudInitIso executable in hooks-dir .*hooks-\d+$/ },
    {
      name: "a script that is not executable (ConfigMap without defaultMode)",
      dir: () => hooksDir({ onDefineDomain: ECHO_DOMAIN }, 0o644),
      message: /^option hooks-dir: .*\/onDefineDomain is not executable \(mount the ConfigMap with defaultMode: 0755, or chmod \+x it\)$/,
    },
    ...["abc", "0", "-1", "5000", "1m"].map((value) => ({
      name: `hook-timeout '${value}'`,
      dir: () => hooksDir({ onDefineDomain: ECHO_DOMAIN }),
      settings: { "hook-timeout": value },
      message: new RegExp(`^option hook-timeout: '${value}' is not a number of seconds between 0 and 3600 \\(default ${DEFAULT_HOOK_TIMEOUT_SECONDS}\\)$`),
    })),
  ];
  for (const { name, dir, settings, message } of cases) {
    test(name, () => {
      assert.throws(() => execPlugin(dir(), settings), (error: unknown) => {
        assert.ok(error instanceof PluginError, String(error));
        assert.match(error.message, message);
        return true;
      });
    });
  }

  test("hook-timeout accepts fractions and a Go-style trailing s", () => {
    const dir = hooksDir({ onDefineDomain: ECHO_DOMAIN });
    for (const value of ["0.5", "45", "45s", " 10 "]) assert.doesNotThrow(() => execPlugin(dir, { "hook-timeout": value }), value);
  });
});

describe("exec: onDefineDomain", () => {
  test("called with sidecar-shim's exact arguments, stdin empty, the sidecar's environment", async () => {
    const record = path.join(scratch, "record");
    mkdirSync(record);
    const dir = hooksDir({
      onDefineDomain: `echo $# > ${record}/argc
i=0; for arg in "$@"; do i=$((i+1)); printf '%s' "$arg" > ${record}/arg$i; done
cat > ${record}/stdin
printf '%s' "$DOMSPLICE_EXEC_TEST_MARK" > ${record}/env
${ECHO_DOMAIN}`,
    });
    process.env.DOMSPLICE_EXEC_TEST_MARK = "inherited";
    try {
      const output = await onDefineDomain(execPlugin(dir).plugin);
      assert.ok(output instanceof Uint8Array, String(output));
    } finally {
      delete process.env.DOMSPLICE_EXEC_TEST_MARK;
    }
    const read = (name: string) => readFileSync(path.join(record, name), "utf8");
    assert.equal(read("argc").trim(), "4");
    assert.equal(read("arg1"), "--vmi");
    assert.equal(read("arg2"), vmiJson);
    assert.equal(read("arg3"), "--domain");
    assert.equal(read("arg4"), decode(domainXml));
    assert.equal(read("stdin"), "");
    assert.equal(read("env"), "inherited");
  });

  test("its stdout is the new domain; applied twice equals applied once (for an idempotent script); libvirt's schema still validates", async () => {
    const { plugin } = execPlugin(hooksDir({ onDefineDomain: ADD_WATCHDOG }));
    const once = await onDefineDomain(plugin);
    assert.equal(decode(once as Uint8Array), withWatchdog(domainXml));
    const twice = await onDefineDomain(plugin, once as Uint8Array);
    assert.equal(decode(twice as Uint8Array), decode(once as Uint8Array));

    const valid = schemaValidKubevirtDomain(domainXml);
    assert.ok(validateDomain(valid).valid);
    const output = await onDefineDomain(plugin, valid);
    const verdict = validateDomain(output as Uint8Array);
    assert.ok(verdict.valid, verdict.messages);
  });

  test("output identical to the input hands back the input itself", async () => {
    const output = await onDefineDomain(execPlugin(hooksDir({ onDefineDomain: ECHO_DOMAIN })).plugin);
    assert.equal(output, domainXml);
  });

  test("stderr is logged line by line as JSON log lines naming the script; the answer is unaffected", async () => {
    const dir = hooksDir({ onDefineDomain: `echo "adding a watchdog" >&2\nprintf 'to %s\\r\\nlast line without newline' testvmi >&2\n${ADD_WATCHDOG}` });
    const { plugin, logs } = execPlugin(dir);
    const output = await onDefineDomain(plugin);
    assert.equal(decode(output as Uint8Array), withWatchdog(domainXml));
    const script = path.join(dir, "onDefineDomain");
    assert.deepEqual(
      logs.map(({ timestamp, ...rest }) => {
        assert.match(String(timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        return rest;
      }),
      ["adding a watchdog", "to testvmi", "last line without newline"].map((msg) => ({ component: "domsplice", level: "info", msg, plugin: "exec", script, stream: "stderr" })),
    );
  });

  test("a stderr line longer than 4096 characters is logged cut, never kept growing", async () => {
    const dir = hooksDir({ onDefineDomain: `head -c 100000 /dev/zero | tr '\\0' x >&2\necho >&2\necho next >&2\n${ECHO_DOMAIN}` });
    const { plugin, logs } = execPlugin(dir);
    assert.ok((await onDefineDomain(plugin)) instanceof Uint8Array);
    const messages = logs.map((line) => String(line.msg));
    assert.equal(messages[0], `${"x".repeat(4096)}...`);
    assert.ok(messages.every((msg) => msg.length <= 4099), "no message over 4096 characters and the cut mark");
    assert.equal(messages.at(-1), "next");
  });

  const refusals: readonly { name: string; body: string; settings?: Record<string, string>; message: (script: string) => string | RegExp }[] = [
    {
      name: "a non-zero exit names the script, the status and the last stderr line",
      body: `echo "looking at interface default" >&2\necho "interface default has no MAC" >&2\necho "   " >&2\nexit 3`,
      message: (script) => `plugin exec: ${script} exited with status 3; last stderr line: interface default has no MAC`,
    },
    { name: "a non-zero exit without stderr", body: `exit 1`, message: (script) => `plugin exec: ${script} exited with status 1` },
    { name: "killed by a signal", body: `kill -KILL $$`, message: (script) => `plugin exec: ${script} was killed by SIGKILL` },
    { name: "empty stdout", body: `exit 0`, message: (script) => `plugin exec: ${script} printed nothing on stdout; it must print the domain XML` },
    {
      name: "malformed XML on stdout, with line and column",
      body: `printf '<domain type="kvm">\\n  <devices>\\n</domain>\\n'`,
      message: (script) => new RegExp(`^plugin exec: ${script} printed malformed domain XML at line 3, column \\d+: .*devices`),
    },
    {
      name: "more stdout than the hook server carries",
      body: `head -c 17000000 /dev/zero | tr '\\0' x`,
      message: (script) => `plugin exec: ${script} printed more than 16 MiB on stdout and was killed`,
    },
  ];
  for (const { name, body, settings, message } of refusals) {
    test(name, async () => {
      const dir = hooksDir({ onDefineDomain: body });
      const got = refusal(await onDefineDomain(execPlugin(dir, settings).plugin));
      const expected = message(path.join(dir, "onDefineDomain"));
      if (typeof expected === "string") assert.equal(got, expected);
      else assert.match(got, expected);
    });
  }

  test("a script over hook-timeout is killed with its process group, and the call says so", async () => {
    const pidFile = path.join(scratch, "sleep.pid");
    const dir = hooksDir({ onDefineDomain: `echo "waiting for the network" >&2\nsleep 30 &\necho $! > ${pidFile}\nwait` });
    const started = Date.now();
    const got = refusal(await onDefineDomain(execPlugin(dir, { "hook-timeout": "0.3" }).plugin));
    const took = Date.now() - started;
    assert.equal(got, `plugin exec: ${path.join(dir, "onDefineDomain")} did not finish within 0.3 s (option hook-timeout) and was killed; last stderr line: waiting for the network`);
    assert.ok(took >= 250 && took < 2_500, `answered after ${took} ms`);
    // The shell's own child (sleep) went with it: gone, or a zombie waiting for its reaper.
    const sleepPid = readFileSync(pidFile, "utf8").trim();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stat = path.join("/proc", sleepPid, "stat");
    if (existsSync(stat)) assert.match(readFileSync(stat, "utf8"), /^\d+ \(sleep\) Z/, "sleep is dead");
  });

  test("a script removed after start-up: the call says it cannot run it", async () => {
    const dir = hooksDir({ onDefineDomain: ECHO_DOMAIN });
    const { plugin } = execPlugin(dir);
    rmSync(path.join(dir, "onDefineDomain"));
    assert.equal(refusal(await onDefineDomain(plugin)), `plugin exec: cannot run ${path.join(dir, "onDefineDomain")}: ENOENT`);
  });

  test("a domain too big for one exec argument (Linux: 128 KiB) is refused clearly, as sidecar-shim would fail", async () => {
    const dir = hooksDir({ onDefineDomain: ECHO_DOMAIN });
    const big = new TextEncoder().encode(`<domain type="kvm"><!--${"x".repeat(200_000)}--></domain>`);
    assert.match(
      refusal(await onDefineDomain(execPlugin(dir).plugin, big)),
      /^plugin exec: cannot run .*\/onDefineDomain: its arguments are too long for exec \(E2BIG; the longest is 200035 bytes, Linux allows 128 KiB per argument, as for sidecar-shim\)$/,
    );
  });
});

describe("exec: preCloudInitIso", () => {
  const sent = {
    cloudInitData: new TextEncoder().encode(JSON.stringify(cloudInitData)),
    cloudInitNoCloudSource: new TextEncoder().encode(JSON.stringify({ userData: cloudInitData.UserData })),
  };
  const newData = { ...cloudInitData, UserData: "#cloud-config\nhostname: db-1\n", NetworkData: "version: 2\n" };
  const printJson = (value: unknown) => `cat <<'JSON'\n${JSON.stringify(value)}\nJSON`;

  async function preCloudInitIso(plugin: Plugin, input = sent) {
    const outcome = await prepareCloudInit({ plugins: [plugin], env: {} }, { ...input, vmiJson: vmiBytes });
    return outcome;
  }

  test("called with --vmi JSON --cloud-init CloudInitData; its stdout is the new CloudInitData, the legacy source follows", async () => {
    const record = path.join(scratch, "cloud-init-args");
    const dir = hooksDir({ preCloudInitIso: `[ $# = 4 ] && [ "$1" = --vmi ] && [ "$3" = --cloud-init ] || exit 64\nprintf '%s' "$4" > ${record}\n${printJson(newData)}` });
    const outcome = await preCloudInitIso(execPlugin(dir).plugin);
    if (outcome instanceof HookCallError) return assert.fail(outcome.message);
    assert.equal(readFileSync(record, "utf8"), JSON.stringify(cloudInitData), "the CloudInitData as sent");
    assert.deepEqual(JSON.parse(decode(outcome.cloudInitData)), newData);
    assert.deepEqual(JSON.parse(decode(outcome.cloudInitNoCloudSource)), { userData: newData.UserData, networkData: newData.NetworkData });
    assert.deepEqual(cloudInitDataFromResult(cloudInitData.DataSource, outcome), newData, "what virt-launcher takes from the answer");
  });

  test("a caller that sends only the legacy source: the script gets CloudInitData made from it", async () => {
    const record = path.join(scratch, "cloud-init-legacy");
    const dir = hooksDir({ preCloudInitIso: `printf '%s' "$4" > ${record}\n${printJson(newData)}` });
    const outcome = await preCloudInitIso(execPlugin(dir).plugin, { cloudInitData: new Uint8Array(0), cloudInitNoCloudSource: sent.cloudInitNoCloudSource });
    assert.ok(!(outcome instanceof HookCallError), String((outcome as HookCallError).message));
    assert.deepEqual(JSON.parse(readFileSync(record, "utf8")), { DataSource: "noCloud", UserData: cloudInitData.UserData, NetworkData: "" });
  });

  const refusals: readonly { name: string; body: string; message: (script: string) => string }[] = [
    {
      name: "invalid JSON on stdout, with line and column",
      body: `printf '{\\n  "UserData": "x",\\n}\\n'`,
      message: (script) => `plugin exec: invalid CloudInitData JSON printed by ${script} at line 3, column 1: unexpected "}", expected a property name in double quotes`,
    },
    {
      name: "a field of a type KubeVirt cannot read",
      body: printJson({ ...cloudInitData, UserData: ["not", "a", "string"] }),
      message: (script) => `plugin exec: CloudInitData printed by ${script}: UserData is an array; KubeVirt expects a string`,
    },
    { name: "empty stdout", body: `exit 0`, message: (script) => `plugin exec: ${script} printed nothing on stdout; it must print the CloudInitData JSON` },
    { name: "a non-zero exit", body: `echo "no user data to patch" >&2; exit 2`, message: (script) => `plugin exec: ${script} exited with status 2; last stderr line: no user data to patch` },
  ];
  for (const { name, body, message } of refusals) {
    test(name, async () => {
      const dir = hooksDir({ preCloudInitIso: body });
      const outcome = await preCloudInitIso(execPlugin(dir).plugin);
      if (!(outcome instanceof HookCallError)) return assert.fail("expected a refusal");
      assert.equal(outcome.code, StatusCode.FAILED_PRECONDITION);
      assert.equal(outcome.message, message(path.join(dir, "preCloudInitIso")));
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe("exec through the real command line and server", () => {
  before(async () => {
    await ensureNodeBundle();
  });

  test("bin/domsplice hook --plugin exec: the script's domain on stdout, its stderr as a log line (hooks-dir from the environment)", () => {
    const dir = hooksDir({ onDefineDomain: `echo "adding a watchdog" >&2\n${ADD_WATCHDOG}` });
    const run = spawnSync(process.execPath, [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", "exec", "--vmi", vmiJson, "--domain", path.join(corpus, "kubevirt", "domain.xml")], {
      env: { ...process.env, DOMSPLICE_HOOKS_DIR: dir },
      timeout: 20_000,
    });
    assert.equal(run.status, 0, run.stderr.toString());
    assert.equal(run.stdout.toString(), withWatchdog(domainXml));
    const lines = run.stderr.toString().trimEnd().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => [line.msg, line.plugin, line.script]), [["adding a watchdog", "exec", path.join(dir, "onDefineDomain")]]);
  });

  test("bin/domsplice hook --plugin exec --option hooks-dir=...: a failing script is one line, exit 2", () => {
    const dir = hooksDir({ onDefineDomain: `exit 5` });
    const run = spawnSync(process.execPath, [path.join(repoRoot, "bin", "domsplice"), "hook", "--plugin", "exec", "--option", `hooks-dir=${dir}`, "--vmi", vmiJson, "--domain", "<domain/>"], {
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(run.status, 2);
    assert.equal(run.stderr, `domsplice hook: FAILED_PRECONDITION: plugin exec: ${path.join(dir, "onDefineDomain")} exited with status 5\n`);
  });

  test("domsplice serve --plugin exec --option hooks-dir=...: virt-launcher's OnDefineDomain call gets the script's domain", async () => {
    const dir = hooksDir({ onDefineDomain: `echo "adding a watchdog" >&2\n${ADD_WATCHDOG}` });
    const sidecar = await startSidecar("node", ["--plugin", "exec", "--option", `hooks-dir=${dir}`]);
    try {
      const info = await callInfo(sidecar.socket);
      assert.ok(info.hookPoints.some((point) => point.name === "OnDefineDomain"));
      const output = await callOnDefineDomain(sidecar.socket, "v1alpha3", domainXml, vmiBytes);
      assert.equal(decode(output), withWatchdog(domainXml));
      const scriptLine = sidecar.logs.find((line) => line.msg === "adding a watchdog");
      assert.deepEqual(scriptLine && [scriptLine.plugin, scriptLine.script, scriptLine.stream], ["exec", path.join(dir, "onDefineDomain"), "stderr"]);
    } finally {
      await sidecar.stop();
    }
  });
});
