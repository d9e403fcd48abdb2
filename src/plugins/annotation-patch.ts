// The annotation-patch plugin: no-code hooks, safely. A VM owner writes a patch document (the
// patch language of README "The patch language", JSON or YAML) in the VMI annotation
// domsplice.io/patch; the plugin applies it to the domain if the admin's policy
// (annotation-policy.ts) permits every op, and fails the call otherwise, naming the op, the
// path and the rule. A VM owner can thus tune what KubeVirt's API does not expose (CPU
// features, timers, SMBIOS, driver queues...) without running code in the launcher pod, and
// without reaching what would let them out of it (qemu:commandline, hostdev, emulator,
// seclabel, filesystem sources).
//
// Setting `policy` (--option policy=FILE, env DOMSPLICE_POLICY): the policy file, typically a
// ConfigMap mounted into the sidecar; read once at start, so a bad one fails `serve` at once.
// Without it the built-in default policy applies.

import { compile, DocumentReader, parseSelector, patch, PatchError, query, queryValue, tokenize, type PatchOp, type Selector } from "../index.ts";
import { WELL_KNOWN_NAMESPACES, type Step } from "../xml/selector.ts";
import { builtInPolicy, judge, loadPolicy, pathStep, touchText, type OpName, type PathStep, type Policy, type PolicyRule, type Touch } from "./annotation-policy.ts";
import { parsePatchDocument, PatchDocumentError } from "./patch-document.ts";
import { PluginError, type DomainHookContext, type Plugin, type PluginFactory } from "./types.ts";

export const PATCH_ANNOTATION = "domsplice.io/patch";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A refusal of op `index`, as the admin and the VM owner read it. */
function opError(index: number, op: PatchOp, reason: string): PluginError {
  return new PluginError(`annotation ${PATCH_ANNOTATION}: op ${index} (${op.op} ${op.path}): ${reason}`);
}

/** The ops of the annotation; syntax errors name line:col in the annotation's value. */
export async function annotationOps(value: string): Promise<PatchOp[]> {
  try {
    // YAML reads JSON too, and reports a JSON syntax error with its line:col just the same.
    return await parsePatchDocument(value, `annotation ${PATCH_ANNOTATION}`, "yaml");
  } catch (error) {
    if (error instanceof PatchDocumentError) throw new PluginError(error.toLine());
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// What each op touches

/** The attribute names an ensure step's [@a='v'] predicates give the element it creates ("*": it cannot tell). */
function createdAttributes(step: Step): string[] {
  const names: string[] = [];
  for (const predicate of step.predicates) {
    if (predicate.kind !== "conditions") continue;
    for (const term of predicate.terms) {
      if (term.steps.length === 0 && term.target === "attribute" && term.attribute) names.push(term.attribute.text);
      else names.push("*");
    }
  }
  return names;
}

/** One element of an `xml` fragment: its steps below the fragment's parent, and its attribute names. */
interface FragmentElement {
  readonly steps: PathStep[];
  readonly attributes: string[];
}

function nameStep(name: string): PathStep {
  const colon = name.indexOf(":");
  return { descendant: false, any: false, prefix: colon >= 0 ? name.slice(0, colon) : null, local: colon >= 0 ? name.slice(colon + 1) : name, predicates: false };
}

/**
 * Every element of an `xml` fragment, each with its path inside the fragment and its attribute
 * names, and whether there is text at its top level: the fragment is known, so what it puts in
 * the domain is judged element by element (a <watchdog> holds no <seclabel> unless it does).
 */
function fragmentContent(xmlText: string): { elements: FragmentElement[]; text: boolean } | undefined {
  // Wrapped in one element so a fragment of several elements is one document to read.
  const bytes = encoder.encode(`<fragment>${xmlText}</fragment>`);
  const result = tokenize(bytes);
  if (!result.ok) return undefined;
  const { kind, start, end, mid, link, root } = result.table;
  const elements: FragmentElement[] = [];
  const open: PathStep[] = [];
  let current: FragmentElement | undefined;
  let text = false;
  for (let i = root + 1; i < link[root]; i++) {
    switch (kind[i]) {
      case 7: // StartTag
      case 8: {
        // EmptyTag
        const step = nameStep(decoder.decode(bytes.subarray(start[i] + 1, mid[i])));
        current = { steps: [...open, step], attributes: [] };
        elements.push(current);
        if (kind[i] === 7) open.push(step);
        break;
      }
      case 10: // Attribute, after its tag
        current?.attributes.push(decoder.decode(bytes.subarray(start[i], mid[i])));
        break;
      case 9: // EndTag
        open.pop();
        current = undefined;
        break;
      case 5: // CData
      case 6: // Text
        current = undefined;
        if (open.length === 0 && decoder.decode(bytes.subarray(start[i], end[i])).trim() !== "") text = true;
        break;
      default:
        current = undefined;
    }
  }
  return { elements, text };
}

/** The touches of an op's new content placed under `parent` (its top elements inherit `descendant` from the op's last step). */
function contentTouches(index: number, op: PatchOp, parent: readonly PathStep[], descendant: boolean, namespaces: Touch["namespaces"]): Touch[] {
  const content = fragmentContent(String((op as { xml?: unknown }).xml ?? ""));
  if (!content) throw opError(index, op, "the xml fragment is not well-formed");
  const touches: Touch[] = content.elements.map(({ steps, attributes }) => ({
    steps: [...parent, { ...steps[0], descendant }, ...steps.slice(1)],
    kind: "element",
    attributes,
    namespaces,
  }));
  if (content.text) touches.push({ steps: parent, kind: "text", attributes: [], namespaces });
  return touches;
}

/** What op `index` changes, judged before it runs (ensure's ancestors are judged apart, on the document). */
function touchesOf(index: number, op: PatchOp, selector: Selector, namespaces: Touch["namespaces"], domain: Uint8Array): Touch[] {
  const steps = selector.steps.map(pathStep);
  const last = steps[steps.length - 1];
  const parent = steps.slice(0, -1);
  const attribute = selector.target === "attribute" ? selector.attribute!.text : null;
  const own = (): Touch =>
    attribute !== null
      ? { steps, kind: "attribute", attributes: [attribute], namespaces }
      : selector.target === "text"
        ? { steps, kind: "text", attributes: [], namespaces }
        : { steps, kind: "subtree", attributes: [], namespaces, holds: holdsIn(domain, op) };
  switch (op.op) {
    case "set":
      return [own()];
    case "remove":
      return [own()];
    case "replace":
      if (selector.target !== "element") return [own()];
      // The old element goes, the fragment's elements take its place under its parent.
      return [own(), ...contentTouches(index, op, parent, last.descendant, namespaces)];
    case "add": {
      const pos = op.pos ?? "append";
      if (pos === "append" || pos === "prepend") return contentTouches(index, op, steps, false, namespaces);
      return contentTouches(index, op, parent, last.descendant, namespaces);
    }
    case "ensure":
      return [{ steps, kind: "element", attributes: createdAttributes(selector.steps[selector.steps.length - 1]), namespaces }];
    default:
      throw opError(index, op, `unknown op`);
  }
}

/** Whether the elements `op.path` selects in `domain` hold (or are) something a rule path selects. */
function holdsIn(domain: Uint8Array, op: PatchOp): (rulePath: string) => boolean {
  const reader = new DocumentReader(domain);
  const selected = reader.query(op.path, op.namespaces ? { namespaces: op.namespaces } : {});
  return (rulePath) => reader.query(rulePath).some((inner) => selected.some((outer) => inner.start >= outer.start && inner.end <= outer.end));
}

/** Offsets where each step of a selector ends, so its first n steps can be queried as a selector of their own. */
function stepEnds(source: string): number[] {
  const ends: number[] = [];
  let depth = 0;
  let quote = "";
  for (let i = 1; i < source.length; i++) {
    const c = source[i];
    if (quote !== "") {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "[") depth++;
    else if (c === "]") depth--;
    else if (c === "/" && depth === 0) ends.push(i);
  }
  ends.push(source.length);
  return ends;
}

/**
 * The elements an ensure will create on this document: those after the deepest prefix of its
 * path that exists. Each must be allowed too, or be a bare ancestor (no predicates, hence no
 * attributes) on the path of the rule that allowed the ensure: ensure /domain/memoryBacking/hugepages
 * may create <memoryBacking>, but ensure /domain/devices/interface[@type='ethernet']/driver may
 * not create an interface.
 */
function checkEnsureCreations(index: number, op: PatchOp, selector: Selector, domain: Uint8Array, policy: Policy, allowedBy: PolicyRule, namespaces: Touch["namespaces"]): void {
  const ends = stepEnds(op.path);
  if (ends.length !== selector.steps.length) throw opError(index, op, "the path could not be split into its steps");
  const options = op.namespaces ? { namespaces: op.namespaces } : {};
  let existing = selector.steps.length - 1;
  while (existing >= 0 && query(domain, op.path.slice(0, ends[existing]), options).length === 0) existing--;
  const steps = selector.steps.map(pathStep);
  for (let j = existing + 1; j < selector.steps.length - 1; j++) {
    const created: Touch = { steps: steps.slice(0, j + 1), kind: "element", attributes: createdAttributes(selector.steps[j]), namespaces };
    const verdict = judge(policy, "ensure", created);
    if (verdict.allowed) continue;
    if (verdict.rule !== null) throw opError(index, op, `would create ${touchText(created)}, denied by rule '${verdict.rule.name}' (policy ${policy.source})`);
    const bareAncestor = !steps[j].predicates && allowedBy.paths.some((path) => path.steps.length > j + 1 && path.steps.slice(0, j + 1).every((ruleStep, k) => !ruleStep.descendant && !ruleStep.any && ruleStep.local === steps[k].local && ruleStep.prefix === steps[k].prefix));
    if (!bareAncestor) {
      throw opError(index, op, `would create ${touchText(created)} (it does not exist), which is outside the areas of rule '${allowedBy.name}' and no rule allows creating (policy ${policy.source})`);
    }
  }
}

/** Resolves an op's prefixes: its own bindings, the domain root's declarations, the well-known ones. */
function namespaceResolver(op: PatchOp, domain: Uint8Array): Touch["namespaces"] {
  return (prefix) => {
    const own = op.namespaces?.[prefix];
    if (own !== undefined) return own;
    let declared: string | undefined;
    try {
      declared = queryValue(domain, `/*/@xmlns:${prefix}`);
    } catch {
      declared = undefined;
    }
    return declared ?? WELL_KNOWN_NAMESPACES[prefix];
  };
}

/** Judges every op against the policy, in order, and applies them; refusals name the op, the path and the rule. */
export function applyAnnotationPatch(domain: Uint8Array, ops: readonly PatchOp[], policy: Policy): Uint8Array {
  try {
    compile(ops as PatchOp[]);
  } catch (error) {
    if (error instanceof PatchError && error.opIndex !== undefined) throw opError(error.opIndex, ops[error.opIndex], error.message);
    if (error instanceof PatchError) throw new PluginError(`annotation ${PATCH_ANNOTATION}: ${error.message}`);
    throw error;
  }
  let current = domain;
  ops.forEach((op, index) => {
    const selector = parseSelector(op.path, op.namespaces ?? {});
    const namespaces = namespaceResolver(op, current);
    let allowedBy: PolicyRule | undefined;
    for (const touch of touchesOf(index, op, selector, namespaces, current)) {
      const verdict = judge(policy, op.op as OpName, touch);
      if (!verdict.allowed) {
        throw opError(
          index,
          op,
          verdict.rule !== null
            ? `${touchText(touch)} is denied by rule '${verdict.rule.name}' (policy ${policy.source})`
            : `no rule allows ${op.op} on ${touchText(touch)} (policy ${policy.source} denies what no rule allows)`,
        );
      }
      allowedBy ??= verdict.rule;
    }
    if (op.op === "ensure" && allowedBy) checkEnsureCreations(index, op, selector, current, policy, allowedBy, namespaces);
    try {
      current = patch(current, [op]) as Uint8Array;
    } catch (error) {
      if (error instanceof PatchError) throw opError(index, op, error.message);
      throw error;
    }
  });
  return current;
}

export const createAnnotationPatchPlugin: PluginFactory = async (options) => {
  const file = options.get("policy");
  const policy = file === undefined || file === "" ? builtInPolicy() : await loadPolicy(file);
  return {
    name: "annotation-patch",
    hookPoints: ["OnDefineDomain"],
    async onDefineDomain(context: DomainHookContext): Promise<Uint8Array> {
      const value = context.vmi.metadata?.annotations?.[PATCH_ANNOTATION];
      if (value === undefined) return context.domainXml;
      if (typeof value !== "string") throw new PluginError(`annotation ${PATCH_ANNOTATION}: the value is not a string`);
      const ops = await annotationOps(value);
      return applyAnnotationPatch(context.domainXml, ops, policy);
    },
  } satisfies Plugin;
};
