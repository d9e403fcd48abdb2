// Scan error numbers of the WASM kernel: the same values as ScanError in src/xml/errors.ts (a
// test compares the two), so a kernel result is just (code, offset, aux) for the TS side to
// turn into an XmlError. NeedRoom is the kernel's own: the token or reference area the loader
// sized was too small, and the loader re-runs the scan with more room.

export const None: i32 = 0;
export const UnexpectedEof: i32 = 1;
export const UnclosedElement: i32 = 2;
export const InvalidUtf8: i32 = 3;
export const InvalidChar: i32 = 4;
export const ExpectedName: i32 = 5;
export const ExpectedEquals: i32 = 6;
export const ExpectedQuote: i32 = 7;
export const LtInAttributeValue: i32 = 8;
export const ExpectedWhitespace: i32 = 9;
export const ExpectedTagEnd: i32 = 10;
export const DuplicateAttribute: i32 = 11;
export const MismatchedEndTag: i32 = 12;
export const CDataEndInText: i32 = 13;
export const BadReference: i32 = 14;
export const InvalidCharRef: i32 = 15;
export const DoubleHyphenInComment: i32 = 16;
export const ReservedPITarget: i32 = 17;
export const ContentAfterRoot: i32 = 18;
export const MarkupNotAllowed: i32 = 19;
export const TooDeep: i32 = 20;
export const TooManyTokens: i32 = 21;
export const TooLarge: i32 = 22;
export const NoRootElement: i32 = 23;

/** Kernel only: the loader's token area is full; it grows it and scans again. */
export const NeedRoom: i32 = 100;
