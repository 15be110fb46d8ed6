"""The vocabulary every other layer speaks, and nothing else of juki-net.

Identities (SPIFFE IDs and how a caller is read from a verified TLS peer),
the stable error reasons and how a refusal becomes a gRPC status, the node
configuration and the network description, the one clock, the sizes of
stored text, the paths of the served RPC methods and the tracing setup.
Modules here import no other layer of juki-net.
"""
