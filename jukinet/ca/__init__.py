"""The network CA's folder: its CAs, what it issues, revokes and approves, and what it publishes.

A CA operator's tooling (`juki-net pki …`, the signing service in
services/ca/): signing nodes' PKCS#10 requests and key-document requests,
renewing an approved identity's certificate, CRLs, CA rollover, and the
publication folder every node's trust material ultimately comes from
(a trust bundle signed by the CAs, the CRLs, every node's key document).
"""
