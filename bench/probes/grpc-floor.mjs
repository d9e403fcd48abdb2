// Floor probe for bench/hooks.ts, not product code: the least a @grpc/grpc-js server can be.
// No CLI, no codec module, no plugins: Info and OnDefineDomain (v1alpha1..3, echo) defined by
// hand with pass-through serializers, bound on the unix socket given as argv[2]. Ready time and
// memory of this process are what any grpc-js hook server costs at least.
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { unlinkSync } from "node:fs";
import { Buffer } from "node:buffer";
import process from "node:process";
import { INFO_PATH, INFO_RESULT, ON_DEFINE_DOMAIN_PATHS, echoDomain } from "./hook-messages.mjs";

const socket = process.argv[2];
const passThrough = (bytes) => bytes;
const unary = (path) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: passThrough,
  requestDeserialize: passThrough,
  responseSerialize: passThrough,
  responseDeserialize: passThrough,
});

const server = new Server();
server.addService({ Info: unary(INFO_PATH) }, { Info: (_call, callback) => callback(null, INFO_RESULT) });
for (const path of ON_DEFINE_DOMAIN_PATHS) {
  server.addService(
    { OnDefineDomain: unary(path) },
    { OnDefineDomain: (call, callback) => callback(null, echoDomain(call.request)) },
  );
}
server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (error) => {
  if (error) {
    console.error(JSON.stringify({ msg: "bind failed", error: String(error) }));
    process.exit(2);
  }
  console.error(JSON.stringify({ msg: "serving", socket, probe: "grpc-floor" }));
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.forceShutdown();
    try {
      unlinkSync(socket);
    } catch {}
    process.exit(0);
  });
}
