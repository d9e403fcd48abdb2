// Floor probes only (bench/hooks.ts), not product code: the two hook messages the floor servers
// answer, encoded by hand so the probes load nothing but their transport. Info announces one
// hook point; OnDefineDomain echoes the domain (the identity plugin's answer) without checking it.

import { Buffer } from "node:buffer";

export const INFO_PATH = "/kubevirt.hooks.info.Info/Info";
export const ON_DEFINE_DOMAIN_PATHS = ["v1alpha1", "v1alpha2", "v1alpha3"].map(
  (version) => `/kubevirt.hooks.${version}.Callbacks/OnDefineDomain`,
);

function varint(value) {
  const bytes = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return bytes;
}

function lengthDelimited(field, bytes) {
  return [(field << 3) | 2, ...varint(bytes.length), ...bytes];
}

const utf8 = (text) => [...new TextEncoder().encode(text)];

/** InfoResult{name=1, hookPoints=3 [HookPoint{name=1 "OnDefineDomain", priority=2 0}], versions=4}. */
export const INFO_RESULT = Buffer.from([
  ...lengthDelimited(1, utf8("floor")),
  ...lengthDelimited(3, lengthDelimited(1, utf8("OnDefineDomain"))),
  ...["v1alpha1", "v1alpha2", "v1alpha3"].flatMap((version) => lengthDelimited(4, utf8(version))),
]);

/** OnDefineDomainParams{domainXML=1, vmi=2} -> OnDefineDomainResult{domainXML=1}, same bytes. */
export function echoDomain(request) {
  let domain = request.subarray(0, 0);
  let at = 0;
  const readVarint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = request[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < request.length) {
    const tag = readVarint();
    const wireType = tag & 7;
    if (wireType === 2) {
      const length = readVarint();
      if (tag >>> 3 === 1) domain = request.subarray(at, at + length);
      at += length;
    } else if (wireType === 0) readVarint();
    else at += wireType === 1 ? 8 : 4;
  }
  const head = Buffer.from([0x0a, ...varint(domain.length)]);
  return Buffer.concat([head, domain]);
}
