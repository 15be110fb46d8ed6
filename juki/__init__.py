"""Generated protobuf and gRPC stubs of protos/juki (do not edit; run scripts/gen_protos.py)."""
