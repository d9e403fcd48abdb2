// The admin policy of the annotation-patch plugin: which parts of the domain VM owners may
// change through the domsplice.io/patch annotation, and with which operations. A policy is a
// list of named rules; each allows or denies some ops on some areas of the domain. An op is
// permitted when an allow rule covers everything it touches and no deny rule may touch any of
// it: deny wins, and what no rule allows is denied.
//
// Paths are judged structurally, on parsed selectors (parseSelector), never as strings: a
// selector is a sequence of element steps, `*` (any one element) and `//` (any depth), so
//   /domain/devices//emulator, /domain/*/emulator, /domain/devices/x:emulator
// are all seen to reach <emulator>, and predicates (which only narrow a selection) neither
// widen nor escape an area. An op may use `*` or `//` only where an allow rule's path has them
// too; a deny rule matches every path an op with `*` or `//` could reach.
//
// Policy document (YAML or JSON; meant to be a ConfigMap mount):
//   extends: default          # optional: the built-in rules first, then these
//   rules:
//     - name: cpu-tuning      # named in refusals
//       allow: [set, ensure]  # or deny:; ops add/replace/remove/set/ensure, or "*" for all
//       paths:                # an area: the element and everything inside it, or
//         - /domain/cpu       #   .../@attr: only that attribute of that element
//         - /domain/devices/*/driver/@queues
//       wildcards: true       # optional, allow rules: ops may use * and // inside the areas

import { readFileSync } from "node:fs";
import { parseSelector, type Selector } from "../index.ts";
import type { Step } from "../xml/selector.ts";
import { PluginError } from "./types.ts";

export type OpName = "add" | "replace" | "remove" | "set" | "ensure";
export const OP_NAMES: readonly OpName[] = ["add", "replace", "remove", "set", "ensure"];

/** One element step of a path pattern: a name (local part and prefix as written) or `*`, at a child or any depth. */
export interface PathStep {
  readonly descendant: boolean;
  readonly any: boolean;
  readonly prefix: string | null;
  readonly local: string;
  /** The op step had predicates (rule paths never do). */
  readonly predicates: boolean;
}

export interface RulePath {
  readonly source: string;
  readonly steps: readonly PathStep[];
  /** Set when the path ends in @attr: the rule is about that attribute only. */
  readonly attribute: string | null;
}

export interface PolicyRule {
  readonly name: string;
  readonly effect: "allow" | "deny";
  readonly ops: ReadonlySet<OpName>;
  readonly paths: readonly RulePath[];
  /** An allow rule that also lets `*` and `//` be used inside its areas (not only where its paths have them). */
  readonly wildcards: boolean;
  /** Where the rule was written: "FILE:line" or "built-in". */
  readonly origin: string;
}

export interface Policy {
  /** The file it came from, or "built-in default". */
  readonly source: string;
  readonly rules: readonly PolicyRule[];
}

// ---------------------------------------------------------------------------------------------
// The built-in default

/** The default policy as a document, so it reads as an admin's own would (and is parsed the same way). */
export const DEFAULT_POLICY_RULES: readonly { name: string; allow?: "*" | OpName[]; deny?: "*" | OpName[]; paths: string[] }[] = [
  { name: "cpu", allow: "*", paths: ["/domain/cpu"] },
  { name: "features", allow: "*", paths: ["/domain/features"] },
  { name: "clock", allow: "*", paths: ["/domain/clock"] },
  { name: "smbios", allow: "*", paths: ["/domain/os/smbios"] },
  { name: "sysinfo", allow: "*", paths: ["/domain/sysinfo"] },
  { name: "hugepages", allow: "*", paths: ["/domain/memoryBacking/hugepages"] },
  { name: "disk-driver", allow: "*", paths: ["/domain/devices/disk/driver"] },
  { name: "interface-driver", allow: "*", paths: ["/domain/devices/interface/driver"] },
  { name: "video", allow: "*", paths: ["/domain/devices/video"] },
  // Denied even where an allow rule (here or in an admin's `extends: default`) would reach:
  // each lets a VM owner reach the node or out of the pod's confinement.
  { name: "qemu-commandline", deny: "*", paths: ["/domain/qemu:commandline", "/domain/qemu:override", "/domain/qemu:capabilities", "/domain/qemu:deprecation"] },
  { name: "hostdev", deny: "*", paths: ["/domain/devices/hostdev"] },
  { name: "emulator", deny: "*", paths: ["/domain/devices/emulator"] },
  { name: "seclabel", deny: "*", paths: ["/domain/seclabel", "/domain/devices/*/source/seclabel", "/domain/devices/*/seclabel"] },
  { name: "filesystem-source", deny: "*", paths: ["/domain/devices/filesystem/source"] },
  // A raw image read as qcow2 can name any file on the node as its backing file.
  { name: "disk-format", deny: "*", paths: ["/domain/devices/disk/driver/@type"] },
];

export const DEFAULT_POLICY_SOURCE = "built-in default";

let defaultPolicy: Policy | undefined;
export function builtInPolicy(): Policy {
  defaultPolicy ??= { source: DEFAULT_POLICY_SOURCE, rules: DEFAULT_POLICY_RULES.map((rule) => makeRule(rule, "built-in", (message) => new Error(`built-in policy: ${message}`))) };
  return defaultPolicy;
}

// ---------------------------------------------------------------------------------------------
// Reading a policy file

/** Reads and checks a policy file; every problem is a PluginError naming FILE:line:col. */
export async function loadPolicy(file: string): Promise<Policy> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new PluginError(`policy ${file}: cannot read it: ${(error as Error).message}`);
  }
  return parsePolicy(text, file);
}

/** Parses policy text (YAML, which JSON also is); `file` names it in errors. */
export async function parsePolicy(text: string, file: string): Promise<Policy> {
  const { parseDocument, LineCounter, isMap, isSeq, isScalar } = await import("yaml");
  const lineCounter = new LineCounter();
  const document = parseDocument(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, { lineCounter });
  const syntax = document.errors[0];
  if (syntax) {
    const at = syntax.linePos?.[0];
    const reason = syntax.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new PluginError(`policy ${file}${at ? `:${at.line}:${at.col}` : ""}: invalid YAML/JSON: ${reason}`);
  }
  type Node = { range?: [number, number, number] | null } | null | undefined;
  const where = (node: Node): string => {
    if (!node?.range) return file;
    const { line, col } = lineCounter.linePos(node.range[0]);
    return `${file}:${line}:${col}`;
  };
  const fail = (node: Node, message: string): never => {
    throw new PluginError(`policy ${where(node)}: ${message}`);
  };

  const root = document.contents;
  if (!isMap(root)) fail(root as Node, `expected a mapping with "rules" (a list of {name, allow|deny, paths})`);
  const rootMap = root as import("yaml").YAMLMap;
  let extendsDefault = false;
  let rulesNode: unknown;
  for (const pair of rootMap.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (key === "extends") {
      if (!isScalar(pair.value) || (pair.value.value !== "default" && pair.value.value !== "none")) fail(pair.value as Node, `extends must be "default" or "none"`);
      extendsDefault = (pair.value as import("yaml").Scalar).value === "default";
    } else if (key === "rules") {
      rulesNode = pair.value;
    } else {
      fail(pair.key as Node, `unknown key '${key}' (expected extends, rules)`);
    }
  }
  if (!isSeq(rulesNode)) fail((rulesNode ?? rootMap) as Node, `"rules" must be a list of {name, allow|deny, paths}`);

  const rules: PolicyRule[] = extendsDefault ? [...builtInPolicy().rules] : [];
  const names = new Set(rules.map((rule) => rule.name));
  for (const item of (rulesNode as import("yaml").YAMLSeq).items) {
    if (!isMap(item)) fail(item as Node, `a rule must be a mapping {name, allow|deny, paths}`);
    const map = item as import("yaml").YAMLMap;
    const fields: Record<string, unknown> = {};
    const nodes: Record<string, Node> = {};
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      if (!["name", "allow", "deny", "paths", "wildcards"].includes(key)) fail(pair.key as Node, `unknown rule key '${key}' (expected name, allow, deny, paths, wildcards)`);
      fields[key] = (pair.value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? (isScalar(pair.value) ? pair.value.value : pair.value);
      nodes[key] = pair.value as Node;
    }
    if (typeof fields.name !== "string" || fields.name === "") fail((nodes.name ?? map) as Node, `a rule needs a name (a non-empty string)`);
    const name = fields.name as string;
    if (names.has(name)) fail(nodes.name, `rule name '${name}' is used twice`);
    names.add(name);
    const line = map.range ? lineCounter.linePos(map.range[0]).line : 0;
    rules.push(makeRule(fields as never, `${file}:${line}`, (message, key) => new PluginError(`policy ${where(nodes[key ?? "name"] ?? map)}: rule '${name}': ${message}`)));
  }
  return { source: file, rules };
}

/** A rule from its document form; `fail(message, key)` makes the error for a bad field. */
function makeRule(
  fields: { name: string; allow?: unknown; deny?: unknown; paths?: unknown; wildcards?: unknown },
  origin: string,
  fail: (message: string, key?: string) => Error,
): PolicyRule {
  if ((fields.allow === undefined) === (fields.deny === undefined)) throw fail(`give exactly one of allow or deny (a list of ops, or "*")`);
  const effect = fields.allow !== undefined ? "allow" : "deny";
  const opsField = fields.allow ?? fields.deny;
  let ops: OpName[];
  if (opsField === "*") ops = [...OP_NAMES];
  else if (Array.isArray(opsField) && opsField.length > 0) {
    for (const op of opsField) {
      if (op === "*") continue;
      if (!OP_NAMES.includes(op as OpName)) throw fail(`'${String(op)}' is not an op (expected ${OP_NAMES.join(", ")} or "*")`, effect);
    }
    ops = opsField.includes("*") ? [...OP_NAMES] : (opsField as OpName[]);
  } else {
    throw fail(`${effect} must be a non-empty list of ops (${OP_NAMES.join(", ")}) or "*"`, effect);
  }
  if (!Array.isArray(fields.paths) || fields.paths.length === 0) throw fail(`paths must be a non-empty list of selectors such as /domain/cpu`, "paths");
  const paths = fields.paths.map((source: unknown) => {
    if (typeof source !== "string") throw fail(`a path must be a string, not ${JSON.stringify(source)}`, "paths");
    let selector: Selector;
    try {
      selector = parseSelector(source);
    } catch (error) {
      throw fail(`path ${source}: ${(error as Error).message}`, "paths");
    }
    if (selector.target === "text") throw fail(`path ${source}: a rule names elements or attributes, not text()`, "paths");
    const foreign = selector.steps.find((step) => step.name.prefix !== null && step.name.prefix !== "qemu");
    if (foreign) throw fail(`path ${source}: the only prefix a policy path may use is qemu (libvirt's QEMU namespace), not '${foreign.name.prefix}'`, "paths");
    if (selector.steps.some((step) => step.predicates.length > 0)) {
      throw fail(`path ${source}: predicates are not allowed in a policy path (a rule names an area; use * for "any element")`, "paths");
    }
    return { source, steps: selector.steps.map(pathStep), attribute: selector.target === "attribute" ? selector.attribute!.text : null };
  });
  if (fields.wildcards !== undefined && typeof fields.wildcards !== "boolean") throw fail(`wildcards must be true or false`, "wildcards");
  if (fields.wildcards === true && effect === "deny") throw fail(`wildcards is for allow rules (a deny rule already matches every path * or // could reach)`, "wildcards");
  return { name: fields.name, effect, ops: new Set(ops), paths, wildcards: fields.wildcards === true, origin };
}

const decoder = new TextDecoder();

export function pathStep(step: Step): PathStep {
  const text = step.name.text;
  const colon = text.indexOf(":");
  return {
    descendant: step.descendant,
    any: step.name.any,
    prefix: step.name.prefix,
    local: step.name.any ? "*" : colon >= 0 ? text.slice(colon + 1) : decoder.decode(step.name.local),
    predicates: step.predicates.length > 0,
  };
}

// ---------------------------------------------------------------------------------------------
// What an op touches, and the judgement

/**
 * One thing an op changes: the element at `steps` and
 *   "subtree"  the element and everything inside it (remove, replace, add),
 *   "element"  the element itself and the attributes in `attributes` (ensure creating it),
 *   "attribute" one attribute, "text" its own text.
 * `namespaces` resolves the op's prefixes (its own bindings, then the domain root's).
 */
export interface Touch {
  readonly steps: readonly PathStep[];
  readonly kind: "subtree" | "element" | "attribute" | "text";
  readonly attributes: readonly string[];
  readonly namespaces: (prefix: string) => string | undefined;
  /**
   * For a subtree touch of elements already in the domain (remove, replace): whether the
   * domain has an element (or attribute) a rule path selects inside them. What they hold is
   * known, so it is looked up rather than guessed from paths.
   */
  readonly holds?: (rulePath: string) => boolean;
}

const QEMU_NAMESPACE = "http://libvirt.org/schemas/domain/qemu/1.0";

/**
 * The path tokens of a step list: `//x` is [ANY*, x]. Matching works on these: a name token
 * matches one element; ANY* any number (0+) of elements.
 */
type Token = { star: true } | { star: false; step: PathStep };
function tokens(steps: readonly PathStep[]): Token[] {
  const out: Token[] = [];
  for (const step of steps) {
    if (step.descendant) out.push({ star: true });
    out.push({ star: false, step });
  }
  return out;
}

/** Rule name `r` selects every element op name `o` can: `*` covers all; names compare by namespace. */
function nameCovers(r: PathStep, o: PathStep, opNamespaces: Touch["namespaces"]): boolean {
  if (r.any) return true;
  if (o.any) return false;
  if (r.local !== o.local) return false;
  if ((r.prefix === null) !== (o.prefix === null)) return false;
  if (r.prefix === null) return true;
  // A rule's prefix is always qemu (checked when the policy is read).
  return opNamespaces(o.prefix!) === QEMU_NAMESPACE;
}

/** Names that may select a common element: any `*`, or the same local name whatever the namespace (a deny errs on the safe side). */
function nameMayMeet(r: PathStep, o: PathStep): boolean {
  return r.any || o.any || r.local === o.local;
}

/**
 * Every element the op's path can select lies in the rule's area (`exact`: is the rule's
 * element itself). Sound, not complete: an op `*` or `//` is covered only by a rule `*` or `//`.
 */
function covers(rule: readonly PathStep[], op: readonly PathStep[], exact: boolean, wildcards: boolean, namespaces: Touch["namespaces"]): boolean {
  const r = tokens(rule);
  const o = tokens(op);
  const memo = new Map<number, boolean>();
  const walk = (i: number, j: number): boolean => {
    const key = i * 1024 + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    // Inside the area, `*` and `//` only where the rule says so.
    if (i === r.length) result = exact ? j === o.length : wildcards || o.slice(j).every((token) => !token.star && !token.step.any);
    else if (j === o.length) result = false;
    else {
      const rt = r[i];
      const ot = o[j];
      if (rt.star) result = walk(i + 1, j) || walk(i, j + 1); // the rule's any-depth absorbs the op's token, or ends
      else if (ot.star) result = false;
      else result = nameCovers(rt.step, ot.step, namespaces) && walk(i + 1, j + 1);
    }
    memo.set(key, result);
    return result;
  };
  return walk(0, 0);
}

/**
 * Some element both paths can select (a name token on each side may pair with the other's
 * ANY*), or, with `opDeeper`, one inside an element the rule selects; with `ruleDeeper`, the
 * rule's inside one the op selects.
 */
function meets(rule: readonly PathStep[], op: readonly PathStep[], mode: { opDeeper: boolean; ruleDeeper: boolean }): boolean {
  const r = tokens(rule);
  const o = tokens(op);
  const memo = new Map<number, boolean>();
  const walk = (i: number, j: number): boolean => {
    const key = i * 1024 + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    memo.set(key, false);
    let result: boolean;
    if (i === r.length && j === o.length) result = true;
    else if (i === r.length) result = mode.opDeeper; // the op's element lies inside the rule's
    else if (j === o.length) result = mode.ruleDeeper; // the rule's element lies inside the op's
    else {
      const rt = r[i];
      const ot = o[j];
      if (rt.star && ot.star) result = walk(i + 1, j) || walk(i, j + 1);
      else if (rt.star) result = walk(i + 1, j) || walk(i, j + 1);
      else if (ot.star) result = walk(i, j + 1) || walk(i + 1, j);
      else result = nameMayMeet(rt.step, ot.step) && walk(i + 1, j + 1);
    }
    memo.set(key, result);
    return result;
  };
  return walk(0, 0);
}

/** The allow rule path covers the touch entirely. */
function allowCovers(rule: PolicyRule, path: RulePath, touch: Touch): boolean {
  if (path.attribute === null) return covers(path.steps, touch.steps, false, rule.wildcards, touch.namespaces);
  return touch.kind === "attribute" && touch.attributes[0] === path.attribute && covers(path.steps, touch.steps, true, false, touch.namespaces);
}

/** The deny rule path may be touched. */
function denyMeets(path: RulePath, touch: Touch): boolean {
  const subtree = touch.kind === "subtree";
  // Around the rule's element: what the domain holds there decides, when the op says.
  const around = subtree && (touch.holds ? touch.holds(path.source) : meets(path.steps, touch.steps, { opDeeper: path.attribute === null, ruleDeeper: true }));
  // An area is met by a touch inside it, or (for a subtree op) around it.
  if (path.attribute === null) return around || meets(path.steps, touch.steps, { opDeeper: true, ruleDeeper: false });
  // An attribute is met by a subtree op on its element or around it, or by a touch of that
  // very attribute (or of any attribute, when ensure creates the element or a fragment has it).
  if (subtree) return around;
  if (touch.kind === "text") return false;
  return (touch.attributes.includes(path.attribute) || touch.attributes.includes("*")) && meets(path.steps, touch.steps, { opDeeper: false, ruleDeeper: false });
}

export type Verdict = { allowed: true; rule: PolicyRule } | { allowed: false; rule: PolicyRule | null; touch: Touch };

/** Deny wins; then some allow rule must cover the touch. */
export function judge(policy: Policy, op: OpName, touch: Touch): Verdict {
  // Of the deny rules met, the one naming the element the op names, for the clearest refusal
  // (/domain//emulator could also be inside qemu:commandline, but the admin means 'emulator').
  const denied = policy.rules.filter((rule) => rule.effect === "deny" && rule.ops.has(op) && rule.paths.some((path) => denyMeets(path, touch)));
  if (denied.length > 0) {
    const named = touch.steps[touch.steps.length - 1]?.local;
    const rule = denied.find((candidate) => candidate.paths.some((path) => path.steps[path.steps.length - 1]?.local === named)) ?? denied[0];
    return { allowed: false, rule, touch };
  }
  for (const rule of policy.rules) {
    if (rule.effect === "allow" && rule.ops.has(op) && rule.paths.some((path) => allowCovers(rule, path, touch))) return { allowed: true, rule };
  }
  return { allowed: false, rule: null, touch };
}

/** A touch's path written back as a selector, for messages. */
export function touchText(touch: Touch): string {
  let text = "";
  for (const step of touch.steps) text += `${step.descendant ? "//" : "/"}${step.any ? "*" : step.prefix ? `${step.prefix}:${step.local}` : step.local}`;
  if (touch.kind === "attribute") text += `/@${touch.attributes[0]}`;
  if (touch.kind === "text") text += "/text()";
  return text;
}
