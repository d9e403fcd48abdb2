// The schema check the plugin tests rely on (test/libvirt-schema.ts) tells valid from invalid.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { corpus } from "./corpus-files.ts";
import { schemaValidKubevirtDomain, validateDomain } from "./libvirt-schema.ts";

const domain = readFileSync(path.join(corpus, "kubevirt", "domain.xml"));

test("KubeVirt's example domain fails libvirt's schema by itself, and validates once its empty sysinfo children and block source names are gone", () => {
  const asIs = validateDomain(domain);
  assert.equal(asIs.valid, false);
  assert.match(asIs.messages, /sysinfo/);
  const fixed = validateDomain(schemaValidKubevirtDomain(domain));
  assert.equal(fixed.valid, true, fixed.messages);
});

test("a domain with an element libvirt does not know fails the schema", () => {
  const broken = new TextDecoder().decode(schemaValidKubevirtDomain(domain)).replace("<devices>", "<devices>\n    <frobnicator/>");
  assert.equal(validateDomain(broken).valid, false);
});
