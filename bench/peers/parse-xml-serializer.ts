// A minimal XML serializer for @rgrove/parse-xml's document tree, written for this benchmark
// because the library only parses (it has no serializer). It writes what the parser keeps:
// XML declaration, DOCTYPE, elements (explicit end tags unless empty), text, CDATA, comments
// and PIs, escaping text and attribute values. It is deliberately simple string concatenation,
// the way a user of the library would write it.

import {
  XmlCdata,
  XmlComment,
  XmlDeclaration,
  XmlDocument,
  XmlDocumentType,
  XmlElement,
  XmlProcessingInstruction,
  XmlText,
  type XmlNode,
} from "@rgrove/parse-xml";

function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));
}

function escapeAttribute(value: string): string {
  return value.replace(/[&<"\n\r\t]/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === '"' ? "&quot;" : `&#x${c.charCodeAt(0).toString(16)};`,
  );
}

function serializeNode(node: XmlNode): string {
  if (node instanceof XmlElement) {
    let out = `<${node.name}`;
    for (const name in node.attributes) out += ` ${name}="${escapeAttribute(node.attributes[name])}"`;
    if (node.children.length === 0) return `${out}/>`;
    out += ">";
    for (const child of node.children) out += serializeNode(child);
    return `${out}</${node.name}>`;
  }
  // XmlCdata extends XmlText, so it must be tested first.
  if (node instanceof XmlCdata) return `<![CDATA[${node.text}]]>`;
  if (node instanceof XmlText) return escapeText(node.text);
  if (node instanceof XmlComment) return `<!--${node.content}-->`;
  if (node instanceof XmlProcessingInstruction) return `<?${node.name}${node.content ? " " + node.content : ""}?>`;
  if (node instanceof XmlDeclaration) {
    let out = `<?xml version="${node.version}"`;
    if (node.encoding) out += ` encoding="${node.encoding}"`;
    if (node.standalone) out += ` standalone="${node.standalone}"`;
    return `${out}?>`;
  }
  if (node instanceof XmlDocumentType) {
    let out = `<!DOCTYPE ${node.name}`;
    if (node.publicId) out += ` PUBLIC "${node.publicId}" "${node.systemId}"`;
    else if (node.systemId) out += ` SYSTEM "${node.systemId}"`;
    if (node.internalSubset) out += ` [${node.internalSubset}]`;
    return `${out}>`;
  }
  throw new Error(`parse-xml serializer: unexpected node type ${node.type}`);
}

/** Serializes a whole document; top-level nodes are separated by newlines (the parser drops that whitespace). */
export function serializeXmlDocument(document: XmlDocument): string {
  return document.children.map(serializeNode).join("\n") + "\n";
}
