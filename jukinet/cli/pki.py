"""`juki-net pki …`: operations on a PKI folder (the scripts in certs/ call these).

A PKI folder holds ca.crt/ca.key, bundle.pem, crl.pem and revoked.json
(dev/localpki.py); a local network's is STATE_DIR/pki.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from juki.v1 import envelope_pb2
from jukinet.ca.folder import CaFolder
from jukinet.ca.signing import Signer
from jukinet.cli.errors import UsageError, read_bytes
from jukinet.cli.parsing import Subcommands, add_network, command, group, load_network
from jukinet.cli.pki_inspect import certificate, cmd_inspect
from jukinet.client import renewal
from jukinet.core.identity import Identity, IdentityError
from jukinet.trust import pki, tls


def _identity(spiffe_id: str) -> Identity:
    try:
        return Identity.parse(spiffe_id)
    except IdentityError as error:
        raise UsageError(f"{spiffe_id!r} is not a juki-net SPIFFE ID ({error})") from None


def cmd_init_ca(args: argparse.Namespace) -> int:
    """Create a CA, trust bundle and CRL in --dir (refuses to overwrite a CA)."""
    if (args.dir / "ca.key").exists():
        raise UsageError(f"{args.dir / 'ca.key'} exists; refusing to overwrite a CA")
    CaFolder(args.dir).ensure_ca(crl_lifetime=dt.timedelta(hours=args.crl_hours))
    print(f"CA written to {args.dir}/ca.crt (key 0600), bundle.pem and crl.pem beside it")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    """Issue a certificate for a SPIFFE ID, signed by the PKI's signing CA."""
    identity = _identity(args.spiffe_id)
    cert, key = CaFolder(args.pki_dir).issue(
        identity,
        args.out,
        args.stem,
        lifetime=dt.timedelta(hours=args.hours),
        dns_names=tls.certificate_dns_names(identity, args.dns),
        ip_addresses=args.ip,
    )
    print(f"issued {identity} -> {cert} (key {key}, 0600)")
    return 0


def cmd_renew(args: argparse.Namespace) -> int:
    """New key and certificate for the same identity, names and lifetime, beside the old."""
    old = certificate(args.cert)
    dns_names, ip_addresses = pki.names_of(old)
    try:
        identity = Identity.parse(pki.spiffe_id_of(old))
    except (ValueError, x509.ExtensionNotFound):
        raise UsageError(f"{args.cert}: carries no juki-net SPIFFE ID") from None
    cert, key = CaFolder(args.pki_dir).issue(
        identity,
        args.cert.parent,
        args.cert.stem,
        lifetime=old.not_valid_after_utc - old.not_valid_before_utc,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
    )
    print(f"renewed {cert} (key {key}); serving nodes pick it up on their next handshake")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke a certificate, or every certificate of an identity (evicting it), and publish
    the CRLs."""
    if args.identity is not None:
        identity = _identity(args.identity)
        serials = Signer(CaFolder(args.pki_dir)).evict(identity)
        listed = ", ".join(f"{serial:x}" for serial in serials) or "none unexpired"
        print(
            f"revoked every certificate of {identity} ({listed}); its renewals are refused "
            "until you sign a new request for it"
        )
        return 0
    certificate(args.cert)
    serial = CaFolder(args.pki_dir).revoke(args.cert)
    print(f"revoked serial {serial:x}; {args.pki_dir / 'crl.pem'} updated")
    return 0


def cmd_crl(args: argparse.Namespace) -> int:
    """Re-sign the CRLs (fresh nextUpdate); run before they go stale."""
    local = CaFolder(args.pki_dir)
    local.signer()  # a folder without a CA is a mistake, not an empty list
    local.write_crls()
    print(f"{args.pki_dir / 'crl.pem'} re-signed")
    return 0


def cmd_rollover(args: argparse.Namespace) -> int:
    """Begin (trust old + new CA) or finish (drop the old CA) a CA rollover."""
    local = CaFolder(args.pki_dir)
    if args.step == "begin":
        local.begin_rollover()
        Signer(local).resign_published()  # key documents must verify under the new CA too
    else:
        local.finish_rollover(args.in_use)
    print(f"rollover {args.step}: bundle now trusts {len(local.trusted())} CA(s)")
    return 0


def cmd_request(args: argparse.Namespace) -> int:
    """A new key and a PKCS#10 request for an identity (a client's; nodes use `node init`)."""
    identity = _identity(args.spiffe_id)
    key_path = args.out / f"{args.stem}.key"
    if key_path.exists():
        raise UsageError(f"{key_path} exists; refusing to overwrite a key")
    key = pki.new_key()
    pki.write_private_key(key_path, key)
    csr = pki.request(key, identity, dns_names=args.dns, ip_addresses=args.ip)
    pki.write_atomic(args.out / f"{args.stem}.csr", csr.public_bytes(serialization.Encoding.PEM))
    print(f"{identity}: key {key_path} (0600); request {args.out / f'{args.stem}.csr'}")
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    """Show what a PKCS#10 request for the identity the operator expects would be signed as;
    sign it (and approve its renewals) with --yes, or on a yes typed at a terminal."""
    expect = _identity(args.expect)
    signer = Signer(CaFolder(args.pki_dir))
    request = signer.read_request(
        read_bytes(args.csr), expect=expect, lifetime=dt.timedelta(hours=args.hours)
    )
    approval = request.approval
    print(f"to sign: {expect} for {args.hours:g} h")
    print(f"  DNS names:    {', '.join(approval.dns_names) or 'none'}")
    print(f"  IP addresses: {', '.join(approval.ip_addresses) or 'none'}")
    if request.ignored_dns_names:
        ignored = ", ".join(request.ignored_dns_names)
        print(f"  not issued:   {ignored} (asked for; DNS names derive from the identity)")
    if not args.yes and not (sys.stdin.isatty() and input("sign? [y/N] ").strip() == "y"):
        raise UsageError("not signed: read what it would sign above, then add --yes")
    cert = signer.sign(request)
    pki.write_atomic(args.out, pki.pem(cert))
    dns_names, ips = pki.names_of(cert)
    print(
        f"signed {expect} -> {args.out} (names: {', '.join([*dns_names, *ips]) or 'none'}; "
        f"until {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC)"
    )
    return 0


def cmd_sign_keys(args: argparse.Namespace) -> int:
    """Sign a node's key-document request and publish it."""
    expect = _identity(args.expect)
    path = Signer(CaFolder(args.pki_dir)).sign_key_document(
        read_bytes(args.request), expect=expect, witnesses_changed=args.witnesses_changed
    )
    signed = envelope_pb2.SignedKeyDocument.FromString(path.read_bytes())
    witnesses = envelope_pb2.KeyDocument.FromString(signed.document).witnesses
    print(f"signed the key document of {expect}; published at {path}")
    print(f"  witnesses of its logs: {', '.join(witnesses) or 'none'}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish the trust bundle (signed by each CA) and fresh CRLs to the publication folder."""
    folder = CaFolder(args.pki_dir)
    folder.signer()
    folder.write_bundle()
    folder.write_crls()
    print(f"published to {folder.published}")
    return 0


def cmd_renew_client(args: argparse.Namespace) -> int:
    """Renew a client's certificate at the signing service (at half-life, or now with --force)."""
    network = load_network(args)
    if network.signing_service is None:
        raise UsageError(
            f"{args.network}: names no signing service (network describe --signing-service)"
        )
    client = network.client(args.as_)
    with renewal.client_lock(client):
        if not args.force and not renewal.due(client):
            print(f"{args.as_}: not yet half-way through its lifetime; nothing to do")
            return 0
        try:
            cert = renewal.renew(network, client)
        except ValueError as error:
            raise UsageError(f"{args.as_}: {error}") from None
    print(f"{args.as_}: renewed; valid until {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    return 0


def _add_pki_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pki-dir", type=Path, required=True, help="the PKI folder (ca.crt, ca.key, crl.pem …)"
    )


def add_commands(sub: Subcommands) -> None:
    """pki init-ca|issue|renew|revoke|crl|rollover|inspect."""
    pki_sub = group(
        sub,
        "pki",
        summary="operations on a PKI folder: CA, certificates, CRLs, rollover",
        example="juki-net pki init-ca --dir pki",
    )
    init = command(
        pki_sub,
        "init-ca",
        summary="create a CA, trust bundle and CRL in a new folder",
        example="juki-net pki init-ca --dir pki",
        func=cmd_init_ca,
    )
    init.add_argument("--dir", type=Path, required=True, help="the PKI folder to create")
    init.add_argument(
        "--crl-hours",
        type=float,
        default=24,
        help="how long each CRL is valid; re-signed at half that (default: %(default)s)",
    )
    issue = command(
        pki_sub,
        "issue",
        summary="issue a certificate for a SPIFFE ID",
        details="A node's certificate also gets the DNS name its peers check "
        "(e.g. cs-141003.juki.example).",
        example="juki-net pki issue --pki-dir pki --spiffe-id spiffe://juki.example/cs/141003 "
        "--out certs --stem cs-141003",
        func=cmd_issue,
    )
    _add_pki_dir(issue)
    issue.add_argument("--spiffe-id", required=True, help="the identity the certificate names")
    issue.add_argument("--out", type=Path, required=True, help="folder to write STEM.crt/.key")
    issue.add_argument("--stem", required=True, help="file name stem: STEM.crt, STEM.key")
    issue.add_argument(
        "--hours", type=float, default=24, help="lifetime in hours (default: %(default)s)"
    )
    issue.add_argument("--dns", action="append", default=[], help="another DNS name (repeatable)")
    issue.add_argument("--ip", action="append", default=[], help="an IP address (repeatable)")
    renew = command(
        pki_sub,
        "renew",
        summary="new key and certificate for a certificate's identity and names",
        example="juki-net pki renew --pki-dir pki --cert certs/cs-141003.crt",
        func=cmd_renew,
    )
    _add_pki_dir(renew)
    renew.add_argument("--cert", type=Path, required=True, help="the certificate file")
    revoke = command(
        pki_sub,
        "revoke",
        summary="revoke a certificate, or every certificate of an identity (every node refuses "
        "them from its next call)",
        details="--identity also revokes the renewals someone holding a stolen key made, and "
        "refuses the identity's renewals until you sign a new request for it.",
        example="juki-net pki revoke --pki-dir pki --cert certs/cs-141003.crt",
        func=cmd_revoke,
    )
    _add_pki_dir(revoke)
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--cert", type=Path, help="the certificate file")
    which.add_argument("--identity", help="a SPIFFE ID: every certificate issued to it")
    crl = command(
        pki_sub,
        "crl",
        summary="re-sign the CRLs (run well within their 24 h validity)",
        example="juki-net pki crl --pki-dir pki",
        func=cmd_crl,
    )
    _add_pki_dir(crl)
    roll = command(
        pki_sub,
        "rollover",
        summary="CA rollover: begin (trust old and new CA), finish (drop the old)",
        example="juki-net pki rollover finish --pki-dir pki --in-use certs/*.crt",
        func=cmd_rollover,
    )
    roll.add_argument("step", choices=["begin", "finish"], help="which step of the rollover")
    _add_pki_dir(roll)
    roll.add_argument(
        "--in-use",
        type=Path,
        nargs="*",
        default=[],
        help="certificates still in use; finish is refused while any is from the old CA",
    )
    request = command(
        pki_sub,
        "request",
        summary="a new key and PKCS#10 request for a client identity (nodes: node init)",
        example="juki-net pki request --spiffe-id spiffe://juki.example/operator/14/admin-1 "
        "--out clients --stem operator",
        func=cmd_request,
    )
    request.add_argument("--spiffe-id", required=True, help="the identity to request")
    request.add_argument("--out", type=Path, required=True, help="folder for STEM.key, STEM.csr")
    request.add_argument("--stem", required=True, help="file name stem")
    request.add_argument("--dns", action="append", default=[], help="a DNS name (repeatable)")
    request.add_argument("--ip", action="append", default=[], help="an IP address (repeatable)")
    sign = command(
        pki_sub,
        "sign",
        summary="sign a PKCS#10 request for the identity you expect, and approve its renewals",
        details="Shows what it would sign first: a node's certificate gets the DNS name its "
        "peers check, derived from its identity, never the names the request asks for.",
        example="juki-net pki sign --pki-dir pki --csr prefecture-14/node.csr --expect "
        "spiffe://juki.example/prefecture/14 --out prefecture-14/node.crt --yes",
        func=cmd_sign,
    )
    _add_pki_dir(sign)
    sign.add_argument("--csr", type=Path, required=True, help="the request (PEM)")
    sign.add_argument("--expect", required=True, help="the SPIFFE ID the request must name")
    sign.add_argument("--out", type=Path, required=True, help="where to write the certificate")
    sign.add_argument(
        "--hours", type=float, default=24, help="lifetime in hours (default: %(default)s)"
    )
    sign.add_argument("--yes", action="store_true", help="sign what it shows, without asking")
    renew_client = command(
        pki_sub,
        "renew-client",
        summary="renew a client's own certificate at the CA's signing service",
        details="Clients also renew by themselves when they connect past half-life; this is "
        "for a timer, so a client that rarely connects never lets its certificate expire.",
        example="juki-net pki renew-client --network network.json --as operator",
        func=cmd_renew_client,
    )
    add_network(renew_client)
    renew_client.add_argument(
        "--as", dest="as_", default="operator", help="the client (default: %(default)s)"
    )
    renew_client.add_argument("--force", action="store_true", help="renew even before half-life")
    sign_keys = command(
        pki_sub,
        "sign-keys",
        summary="sign a node's key-document request and publish it",
        example="juki-net pki sign-keys --pki-dir pki --request "
        "prefecture-14/key-document.request --expect spiffe://juki.example/prefecture/14",
        func=cmd_sign_keys,
    )
    _add_pki_dir(sign_keys)
    sign_keys.add_argument("--request", type=Path, required=True, help="the key-document request")
    sign_keys.add_argument("--expect", required=True, help="the SPIFFE ID it must name")
    sign_keys.add_argument(
        "--witnesses-changed",
        action="store_true",
        help="sign although it names other witnesses than the published document (checked "
        "with the node's operator: the new witnesses never saw its logs)",
    )
    publish = command(
        pki_sub,
        "publish",
        summary="publish the signed trust bundle and fresh CRLs (the national server's source)",
        example="juki-net pki publish --pki-dir pki",
        func=cmd_publish,
    )
    _add_pki_dir(publish)
    inspect = command(
        pki_sub,
        "inspect",
        summary="describe a certificate: identity, serial, validity, chain, revocation",
        example="juki-net pki inspect certs/cs-141003.crt --bundle pki/bundle.pem",
        func=cmd_inspect,
    )
    inspect.add_argument("file", type=Path, help="the certificate (PEM)")
    inspect.add_argument("--bundle", type=Path, help="also check it chains to this trust bundle")
    inspect.add_argument(
        "--crl", type=Path, help="the CRL file to check (default: crl.pem beside the bundle)"
    )
