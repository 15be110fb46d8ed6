// A juki-net client outside Python, written from the .proto files alone (as a municipal
// register-system vendor or an organ's system would, with @grpc/grpc-js). It makes one call
// described by a JSON file and prints the answer, or the refusal's status and ErrorInfo, as
// one JSON line. tests/test_node_client.py runs it against a real network.
//
//   node client.js call.json
//
// call.json: {"protos": DIR, "address": "HOST:PORT", "server_name": "cs-141003.juki.example",
//             "ca": FILE, "cert": FILE, "key": FILE,
//             "service": "juki.v1.CsService", "method": "SubmitChange", "request": {...}}
// The request is the message as an object with the .proto's field names (snake_case) and
// enum values by name.
"use strict";

const fs = require("fs");
const path = require("path");
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");

function protoFiles(root) {
  const files = [];
  for (const dir of ["juki/v1", "grpc/health/v1", "google/rpc"]) {
    for (const name of fs.readdirSync(path.join(root, dir))) {
      if (name.endsWith(".proto")) files.push(path.join(dir, name));
    }
  }
  return files;
}

function serviceClient(call, definition) {
  let node = grpc.loadPackageDefinition(definition);
  for (const part of call.service.split(".")) node = node[part];
  const credentials = grpc.credentials.createSsl(
    fs.readFileSync(call.ca),
    fs.readFileSync(call.key),
    fs.readFileSync(call.cert)
  );
  return new node(call.address, credentials, {
    "grpc.ssl_target_name_override": call.server_name,
    "grpc.default_authority": call.server_name,
  });
}

// The refusal's google.rpc.Status from the grpc-status-details-bin trailer, with its ErrorInfo.
function refusal(error, root) {
  const answer = { code: grpc.status[error.code], message: error.details };
  const raw = error.metadata && error.metadata.get("grpc-status-details-bin")[0];
  if (!raw) return answer;
  const status = root.lookupType("google.rpc.Status").decode(raw);
  for (const detail of status.details) {
    if (detail.type_url.endsWith("/google.rpc.ErrorInfo")) {
      const info = root.lookupType("google.rpc.ErrorInfo").decode(detail.value);
      answer.reason = info.reason;
      answer.domain = info.domain;
    }
  }
  return answer;
}

function main() {
  const call = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const files = protoFiles(call.protos);
  const definition = loader.loadSync(files, {
    includeDirs: [call.protos],
    keepCase: true,
    enums: String,
    longs: String,
    defaults: false,
    oneofs: true,
  });
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    const shipped = path.join(call.protos, target);
    return fs.existsSync(shipped) ? shipped : protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"], {
    keepCase: true,
  });
  const client = serviceClient(call, definition);
  const deadline = new Date(Date.now() + 10000);
  client[call.method](call.request || {}, { deadline }, (error, response) => {
    const out = error ? { error: refusal(error, root) } : { response };
    process.stdout.write(JSON.stringify(out) + "\n");
    client.close();
  });
}

main();
