// The CLI's patch documents (`domsplice patch FILE`): parsed by src/plugins/patch-document.ts,
// which the annotation-patch plugin shares (src/plugins may not import src/cli).
export { PatchDocumentError, parsePatchDocument } from "../plugins/patch-document.ts";
