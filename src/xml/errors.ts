// Errors are values: a stable code, a message a person can act on, and where it happened
// (1-based line and column, 0-based byte offset). Columns count characters (Unicode code
// points), not bytes; CRLF and a lone CR each end one line, as XML's end-of-line handling says.

export interface XmlError {
  /** Stable, kebab-case identifier of what went wrong, e.g. "mismatched-end-tag". */
  code: string;
  /** One line, says what was found and what was expected. */
  message: string;
  line: number;
  column: number;
  offset: number;
}

/**
 * Error codes of the body scanners (TS reference and WASM kernel share these numbers, so a
 * scan result is just (code, offset, aux)). `aux` is a second offset where one helps the
 * message: the start tag an end tag fails to match, the first of two duplicate attributes.
 * Keep in sync with assembly/codes.ts (a test checks).
 */
export const enum ScanError {
  None = 0,
  UnexpectedEof = 1, // aux: offset of the construct left open
  UnclosedElement = 2, // aux: offset of the start tag left open
  InvalidUtf8 = 3,
  InvalidChar = 4,
  ExpectedName = 5,
  ExpectedEquals = 6,
  ExpectedQuote = 7,
  LtInAttributeValue = 8,
  ExpectedWhitespace = 9,
  ExpectedTagEnd = 10,
  DuplicateAttribute = 11, // aux: offset of the first occurrence
  MismatchedEndTag = 12, // aux: offset of the start tag
  CDataEndInText = 13,
  BadReference = 14,
  InvalidCharRef = 15,
  DoubleHyphenInComment = 16,
  ReservedPITarget = 17,
  ContentAfterRoot = 18,
  MarkupNotAllowed = 19,
  TooDeep = 20,
  TooManyTokens = 21,
  TooLarge = 22,
  NoRootElement = 23,
}

const SCAN_ERRORS: Record<number, [code: string, message: string]> = {
  [ScanError.UnexpectedEof]: ["unexpected-eof", "unexpected end of input"],
  [ScanError.UnclosedElement]: ["unclosed-element", "end of input before the end tag of an open element"],
  [ScanError.InvalidUtf8]: ["invalid-utf8", "invalid UTF-8 byte sequence"],
  [ScanError.InvalidChar]: ["invalid-char", "character not allowed in XML"],
  [ScanError.ExpectedName]: ["expected-name", "expected a name"],
  [ScanError.ExpectedEquals]: ["expected-equals", "expected '=' after the attribute name"],
  [ScanError.ExpectedQuote]: ["expected-quote", "expected a quoted attribute value (\" or ')"],
  [ScanError.LtInAttributeValue]: ["lt-in-attribute-value", "'<' is not allowed in an attribute value (write &lt;)"],
  [ScanError.ExpectedWhitespace]: ["expected-whitespace", "expected whitespace"],
  [ScanError.ExpectedTagEnd]: ["expected-tag-end", "expected '>' or '/>'"],
  [ScanError.DuplicateAttribute]: ["duplicate-attribute", "duplicate attribute"],
  [ScanError.MismatchedEndTag]: ["mismatched-end-tag", "end tag does not match the open start tag"],
  [ScanError.CDataEndInText]: ["cdata-end-in-text", "']]>' is not allowed in character data (write ]]&gt;)"],
  [ScanError.BadReference]: ["bad-reference", "malformed reference: '&' must start &name; or &#n; (write &amp;)"],
  [ScanError.InvalidCharRef]: ["invalid-char-ref", "character reference to a character not allowed in XML"],
  [ScanError.DoubleHyphenInComment]: ["double-hyphen-in-comment", "'--' is not allowed inside a comment"],
  [ScanError.ReservedPITarget]: ["reserved-pi-target", "processing instruction target 'xml' is reserved (an XML declaration must come first)"],
  [ScanError.ContentAfterRoot]: ["content-after-root", "content after the root element (only comments, PIs and whitespace may follow it)"],
  [ScanError.MarkupNotAllowed]: ["markup-not-allowed", "markup not allowed here"],
  [ScanError.TooDeep]: ["too-deep", "element nesting deeper than the depth limit"],
  [ScanError.TooManyTokens]: ["too-many-tokens", "more tokens than the token limit"],
  [ScanError.TooLarge]: ["too-large", "input larger than the size limit"],
  [ScanError.NoRootElement]: ["no-root-element", "no root element"],
};

/** 1-based line and column (in characters) of a byte offset. */
export function lineColumn(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const stop = Math.min(offset, bytes.length);
  for (let i = 0; i < stop; i++) {
    const c = bytes[i];
    if (c === 0x0a) {
      line++;
      lineStart = i + 1;
    } else if (c === 0x0d) {
      if (i + 1 < stop && bytes[i + 1] === 0x0a) i++;
      line++;
      lineStart = i + 1;
    }
  }
  let column = 1;
  // A UTF-8 BOM is no character an editor shows: columns on line 1 start after it.
  if (lineStart === 0 && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) lineStart = Math.min(3, stop);
  for (let i = lineStart; i < stop; i++) {
    // Count code points: every byte that is not a UTF-8 continuation byte starts one.
    if ((bytes[i] & 0xc0) !== 0x80) column++;
  }
  return { line, column };
}

/** Builds an XmlError at `offset`; `detail` is appended to the message when given. */
export function xmlError(bytes: Uint8Array, offset: number, code: string, message: string): XmlError {
  const { line, column } = lineColumn(bytes, offset);
  return { code, message, line, column, offset };
}

/** Turns a scanner's (code, offset, aux) into an XmlError with names quoted from the input. */
export function scanErrorToXmlError(bytes: Uint8Array, scanError: ScanError, offset: number, aux: number): XmlError {
  const [code, base] = SCAN_ERRORS[scanError] ?? ["scan-error", `scanner error ${scanError}`];
  let message = base;
  if (scanError === ScanError.MismatchedEndTag || scanError === ScanError.UnclosedElement) {
    const open = lineColumn(bytes, aux);
    message += `: <${nameAt(bytes, aux + 1)}> opened at ${open.line}:${open.column}`;
    if (scanError === ScanError.MismatchedEndTag) message += `, found </${nameAt(bytes, offset + 2)}>`;
  } else if (scanError === ScanError.DuplicateAttribute) {
    const first = lineColumn(bytes, aux);
    message += ` '${nameAt(bytes, offset)}' (first at ${first.line}:${first.column})`;
  } else if (scanError === ScanError.UnexpectedEof && aux >= 0 && aux < offset) {
    const open = lineColumn(bytes, aux);
    message += ` (inside the construct opened at ${open.line}:${open.column})`;
  }
  return xmlError(bytes, offset, code, message);
}

/** Formats an error as one line: "line:column: message". */
export function formatXmlError(error: XmlError): string {
  return `${error.line}:${error.column}: ${error.message}`;
}

const decoder = new TextDecoder();

/** The XML name starting at `offset` (up to the first delimiter), for messages only. */
export function nameAt(bytes: Uint8Array, offset: number): string {
  let end = offset;
  while (end < bytes.length && end - offset < 200) {
    const c = bytes[end];
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x3e || c === 0x2f || c === 0x3d || c === 0x3c) break;
    end++;
  }
  return decoder.decode(bytes.subarray(offset, end));
}
