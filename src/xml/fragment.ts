// The `xml` tagged template: XML fragments for `add` / `replace` with every interpolation
// escaped for the place it lands, so plugin authors never build markup by string concatenation.
//
//   xml`<mac address=${mac}/>`          unquoted attribute value: quoted and escaped
//                                       (null/undefined leave the attribute out)
//   xml`<alias name="${name}"/>`        quoted: escaped for that quote character
//   xml`<name>${text}</name>`           text: escaped
//   xml`<devices>${[a, b]}</devices>`   a fragment (or an array of them) nests as markup, once
//
// Interpolating into a tag name, an attribute name, a comment, a CDATA section or a PI is an
// error (a TypeError naming the position): those places have no escaping that keeps the
// markup what the template says.

import { escapeAttribute, escapeText } from "./escape.ts";

const FRAGMENT = Symbol.for("domsplice.xmlFragment");

/** Markup made by `xml`: its text is already escaped; String(fragment) gives it. */
export interface XmlFragment {
  readonly [FRAGMENT]: true;
  readonly text: string;
  toString(): string;
}

export function isXmlFragment(value: unknown): value is XmlFragment {
  return typeof value === "object" && value !== null && (value as { [FRAGMENT]?: unknown })[FRAGMENT] === true;
}

/** Wraps markup known to be safe (e.g. read from a trusted file) as a fragment, unchecked. */
export function rawXml(text: string): XmlFragment {
  return { [FRAGMENT]: true, text, toString: () => text };
}

const enum Place {
  Text,
  TagName, // right after `<` or `</`
  InTag, // between attributes
  AfterEquals, // `name=` waiting for a value
  AttributeValue, // inside quotes (quote in `quote`)
  Comment,
  CData,
  PI,
}

interface ScanState {
  place: Place;
  quote: string;
}

/** Advances the place through a literal chunk of the template. */
function advance(state: ScanState, chunk: string): void {
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i];
    switch (state.place) {
      case Place.Text:
        if (c === "<") {
          if (chunk.startsWith("<!--", i)) {
            state.place = Place.Comment;
            i += 3;
          } else if (chunk.startsWith("<![CDATA[", i)) {
            state.place = Place.CData;
            i += 8;
          } else if (chunk[i + 1] === "?") {
            state.place = Place.PI;
            i += 1;
          } else {
            state.place = Place.TagName;
            if (chunk[i + 1] === "/") i++;
          }
        }
        break;
      case Place.TagName:
        if (c === ">") state.place = Place.Text;
        else if (/\s/.test(c)) state.place = Place.InTag;
        else if (c === "/") state.place = Place.InTag;
        break;
      case Place.InTag:
        if (c === ">") state.place = Place.Text;
        else if (c === "=") state.place = Place.AfterEquals;
        break;
      case Place.AfterEquals:
        if (c === '"' || c === "'") {
          state.place = Place.AttributeValue;
          state.quote = c;
        } else if (!/\s/.test(c)) {
          state.place = Place.InTag; // an unquoted literal: malformed, the tokenizer will say so
        }
        break;
      case Place.AttributeValue:
        if (c === state.quote) state.place = Place.InTag;
        break;
      case Place.Comment:
        if (chunk.startsWith("-->", i)) {
          state.place = Place.Text;
          i += 2;
        }
        break;
      case Place.CData:
        if (chunk.startsWith("]]>", i)) {
          state.place = Place.Text;
          i += 2;
        }
        break;
      case Place.PI:
        if (chunk.startsWith("?>", i)) {
          state.place = Place.Text;
          i += 1;
        }
        break;
    }
  }
}

function scalarText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  throw new TypeError(`xml: cannot interpolate ${value === null ? "null" : typeof value} here (strings, numbers, booleans or xml fragments)`);
}

function textContent(value: unknown): string {
  if (isXmlFragment(value)) return value.text;
  if (Array.isArray(value)) return value.map(textContent).join("");
  if (value === null || value === undefined || value === false) return "";
  return escapeText(scalarText(value));
}

const PLACE_NAMES: Record<number, string> = {
  [Place.TagName]: "a tag name",
  [Place.InTag]: "an attribute name",
  [Place.Comment]: "a comment",
  [Place.CData]: "a CDATA section",
  [Place.PI]: "a processing instruction",
};

/** Tagged template building an escaped XML fragment; see the file header. */
export function xml(strings: TemplateStringsArray, ...values: unknown[]): XmlFragment {
  const state: ScanState = { place: Place.Text, quote: '"' };
  let out = "";
  for (let i = 0; i < strings.length; i++) {
    const chunk = strings[i];
    advance(state, chunk);
    out += chunk;
    if (i === values.length) break;
    const value = values[i];
    switch (state.place) {
      case Place.Text:
        out += textContent(value);
        break;
      case Place.AttributeValue:
        if (isXmlFragment(value)) throw new TypeError(`xml: interpolation ${i + 1} puts an xml fragment inside an attribute value`);
        out += value === null || value === undefined ? "" : escapeAttribute(scalarText(value), state.quote.charCodeAt(0));
        break;
      case Place.AfterEquals:
        if (value === null || value === undefined) {
          // Leave the whole attribute out: drop ` name=` already written.
          out = out.replace(/\s+[^\s=<>"']+\s*=\s*$/, "");
        } else {
          if (isXmlFragment(value)) throw new TypeError(`xml: interpolation ${i + 1} puts an xml fragment in an attribute value`);
          out += `"${escapeAttribute(scalarText(value), 0x22)}"`;
        }
        state.place = Place.InTag;
        break;
      default:
        throw new TypeError(`xml: interpolation ${i + 1} stands in ${PLACE_NAMES[state.place]}, where values cannot be escaped`);
    }
  }
  return rawXml(out);
}
