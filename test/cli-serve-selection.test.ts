// Which plugins `domsplice serve` runs, through the real CLI (bin/domsplice on Node, and
// dist/domsplice, the image's executable): --plugin options first; else DOMSPLICE_PLUGINS when it
// names any (the image bakes it, empty by default); else, when NETWORK_BINDING_PLUGIN_NAME is set
// (a Network Binding Plugin registration passes no args), the binding plugin of exactly that name,
// and any other name is refused with the value and the choices; else none. Checked on the
// "serving" log line, on Info's hook points, and for the binding name by a real OnDefineDomain.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { BINDING_PLUGIN_NAMES } from "../src/cli/serve.ts";
import { corpus } from "./corpus-files.ts";
import {
  callInfo,
  callOnDefineDomain,
  ensureArtifact,
  ensureNodeBundle,
  listDirectory,
  serveExpectingRefusal,
  socketScratch,
  startSidecar,
  vmiJsonBoundTo,
  type SidecarRuntime,
  type SidecarStart,
} from "./hook-manager.ts";

const utf8 = new TextEncoder();
const kubevirtDomain = new Uint8Array(readFileSync(path.join(corpus, "kubevirt", "domain.xml")));

/** The environment KubeVirt gives a sidecar, on top of which each row sets its own. */
const noChoice = { DOMSPLICE_PLUGINS: undefined, NETWORK_BINDING_PLUGIN_NAME: undefined } as const;

interface Row {
  readonly name: string;
  readonly start: SidecarStart;
  readonly plugins: readonly string[];
  /** Info's hook points: the chosen plugins' plus Shutdown. */
  readonly hookPoints: readonly string[];
}

const rows: readonly Row[] = [
  {
    name: "--plugin wins over DOMSPLICE_PLUGINS and NETWORK_BINDING_PLUGIN_NAME",
    start: { plugins: ["smbios"], env: { DOMSPLICE_PLUGINS: "passt", NETWORK_BINDING_PLUGIN_NAME: "tap" } },
    plugins: ["smbios"],
    hookPoints: ["OnDefineDomain", "Shutdown"],
  },
  {
    name: "DOMSPLICE_PLUGINS (comma-separated, spaces trimmed) wins over NETWORK_BINDING_PLUGIN_NAME",
    start: { plugins: [], env: { DOMSPLICE_PLUGINS: " smbios , identity", NETWORK_BINDING_PLUGIN_NAME: "passt" } },
    plugins: ["smbios", "identity"],
    hookPoints: ["OnDefineDomain", "PreCloudInitIso", "Shutdown"],
  },
  ...BINDING_PLUGIN_NAMES.map((binding) => ({
    name: `no flags and an empty DOMSPLICE_PLUGINS (the image's default): NETWORK_BINDING_PLUGIN_NAME=${binding} runs ${binding}`,
    start: { plugins: [], env: { DOMSPLICE_PLUGINS: "", NETWORK_BINDING_PLUGIN_NAME: binding } },
    plugins: [binding],
    hookPoints: ["OnDefineDomain", "Shutdown"],
  })),
  {
    name: "nothing given: no plugins (Info lists Shutdown only)",
    start: { plugins: [], env: noChoice },
    plugins: [],
    hookPoints: ["Shutdown"],
  },
];

for (const runtime of ["node", "artifact"] as const satisfies readonly SidecarRuntime[]) {
  describe(`serve chooses its plugins (${runtime === "node" ? "bin/domsplice on Node" : "dist/domsplice"})`, () => {
    before(async () => {
      if (runtime === "node") await ensureNodeBundle();
      else ensureArtifact();
    });

    for (const row of rows) {
      test(row.name, async () => {
        const sidecar = await startSidecar(runtime, [], { plugins: row.start.plugins, env: { ...noChoice, ...row.start.env } });
        try {
          assert.deepEqual(sidecar.serving.plugins, row.plugins);
          const info = await callInfo(sidecar.socket);
          assert.deepEqual(info.hookPoints.map((point) => point.name), row.hookPoints);
        } finally {
          await sidecar.stop();
        }
      });
    }

    test("the binding plugin chosen by NETWORK_BINDING_PLUGIN_NAME edits the interface bound to it", async () => {
      const sidecar = await startSidecar(runtime, [], { plugins: [], env: { ...noChoice, NETWORK_BINDING_PLUGIN_NAME: "passt" } });
      try {
        const domain = await callOnDefineDomain(sidecar.socket, "v1alpha3", kubevirtDomain, utf8.encode(vmiJsonBoundTo("passt")));
        const output = new TextDecoder().decode(domain);
        assert.match(output, /<backend type="passt"/, "no passt backend in the domain");
      } finally {
        await sidecar.stop();
      }
    });

    test("a NETWORK_BINDING_PLUGIN_NAME that names no binding plugin is refused with the value and the choices", () => {
      const scratch = socketScratch(runtime);
      try {
        const refused = serveExpectingRefusal(runtime, scratch.socket, scratch.pluginSocket, [], 10_000, {
          plugins: [],
          env: { ...noChoice, NETWORK_BINDING_PLUGIN_NAME: "passt-custom" },
        });
        assert.equal(refused.status, 2, `exit ${refused.status} (signal ${refused.signal}); stderr:\n${refused.stderr}`);
        const lines = refused.stderr.trim().split("\n");
        assert.equal(lines.length, 1, `one line expected on stderr:\n${refused.stderr}`);
        assert.match(lines[0], /NETWORK_BINDING_PLUGIN_NAME 'passt-custom'/);
        assert.match(lines[0], new RegExp(`choices: ${BINDING_PLUGIN_NAMES.join(", ")}`));
        assert.deepEqual(listDirectory(path.dirname(scratch.socket)), [], "no socket may be left behind");
      } finally {
        rmSync(scratch.dir, { recursive: true, force: true });
      }
    });

    test("DOMSPLICE_PLUGINS naming an unknown plugin is refused even when the binding name would match", () => {
      const scratch = socketScratch(runtime);
      try {
        const refused = serveExpectingRefusal(runtime, scratch.socket, scratch.pluginSocket, [], 10_000, {
          plugins: [],
          env: { DOMSPLICE_PLUGINS: "pasta", NETWORK_BINDING_PLUGIN_NAME: "passt" },
        });
        assert.equal(refused.status, 2, `exit ${refused.status}; stderr:\n${refused.stderr}`);
        assert.match(refused.stderr, /unknown plugin 'pasta'/);
      } finally {
        rmSync(scratch.dir, { recursive: true, force: true });
      }
    });
  });
}

