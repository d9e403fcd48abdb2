// The benchmark's hook client: @grpc/grpc-js with the project's own wire codec
// (src/hooks/codec.ts), calling what virt-launcher calls. virt-launcher dials every sidecar
// anew for each call and closes the connection after it; a HookClient is one such connection
// (its own subchannel pool, so two clients never share a connection), and `close()` ends it.

import { Client, credentials, type ServiceError } from "@grpc/grpc-js";
import {
  InfoParamsCodec,
  InfoResultCodec,
  OnDefineDomainParamsCodec,
  OnDefineDomainResultCodec,
  type InfoResult,
  type MessageCodec,
  type OnDefineDomainParams,
} from "../../src/hooks/codec.ts";

export type CallbacksVersion = "v1alpha1" | "v1alpha2" | "v1alpha3";

const INFO = "/kubevirt.hooks.info.Info/Info";
const onDefineDomainPath = (version: CallbacksVersion) => `/kubevirt.hooks.${version}.Callbacks/OnDefineDomain`;

const serializerOf =
  <T>(codec: MessageCodec<T>) =>
  (message: T): Buffer => {
    const bytes = codec.encode(message);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
const deserializerOf =
  <T>(codec: MessageCodec<T>) =>
  (bytes: Buffer): T =>
    codec.decode(bytes);

const encodeInfoParams = serializerOf(InfoParamsCodec);
const decodeInfoResult = deserializerOf(InfoResultCodec);
const encodeOnDefineDomainParams = serializerOf(OnDefineDomainParamsCodec);
const decodeOnDefineDomainResult = deserializerOf(OnDefineDomainResultCodec);

export class HookClient {
  private readonly client: Client;

  constructor(socket: string) {
    this.client = new Client(`unix:${socket}`, credentials.createInsecure(), {
      // A connection of its own, as virt-launcher's per-call grpc.Dial has.
      "grpc.use_local_subchannel_pool": 1,
    });
  }

  info(deadlineMs = 5000): Promise<InfoResult> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(INFO, encodeInfoParams, decodeInfoResult, {}, { deadline: Date.now() + deadlineMs }, (error: ServiceError | null, result?: InfoResult) =>
        error ? reject(error) : resolve(result!),
      );
    });
  }

  onDefineDomain(version: CallbacksVersion, params: OnDefineDomainParams, deadlineMs = 5000): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        onDefineDomainPath(version),
        encodeOnDefineDomainParams,
        decodeOnDefineDomainResult,
        params,
        { deadline: Date.now() + deadlineMs },
        (error: ServiceError | null, result?: { domainXML: Uint8Array }) => (error ? reject(error) : resolve(result!.domainXML)),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** One call on a connection of its own, closed afterwards: what virt-launcher does. */
export async function onDefineDomainOnce(socket: string, params: OnDefineDomainParams, deadlineMs?: number): Promise<Uint8Array> {
  const client = new HookClient(socket);
  try {
    return await client.onDefineDomain("v1alpha3", params, deadlineMs);
  } finally {
    client.close();
  }
}

export async function infoOnce(socket: string): Promise<InfoResult> {
  const client = new HookClient(socket);
  try {
    return await client.info();
  } finally {
    client.close();
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
