#!/usr/bin/env python3
"""Print a new edgepay tenant's secret entries as JSON, ready to merge into the secrets.

It prints one JSON object on stdout:

  {"API_CLIENTS": [<one client>], "TENANTS": [<one tenant>]}

- the API_CLIENTS entry is the tenant's server credential (``key_id`` and
  ``secret``, for HTTP Basic ``key_id:secret`` or ``Bearer secret``) and its
  callback signing key (``callback_secret``, Standard Webhooks
  ``whsec_<base64 of 32 random bytes>``);
- the TENANTS entry is the tenant's rate tier and, when asked for, its
  browser origins, a client-token minting key and a location hint;
- with --backend-secret, also a fresh BACKEND_SECRET (once per deployment,
  shared with the payment backend, not per tenant).

Each list holds one entry: append it to the deployment's current list (the
gateway refuses a repeated key_id or a tenant listed twice in TENANTS), then
`npx wrangler secret put API_CLIENTS` / `TENANTS` with the whole list
(docs/deploy.md). The values follow the rules of the gateway's parser
(core/src/auth/api_keys.rs, core/src/auth/tenants.rs, core/src/signing.rs):
key_id and tenant are 1-64 of [A-Za-z0-9_-]; a secret is at least 16
characters without spaces; a whsec_ key holds 24 to 64 bytes; a mint_secret is
at least 32 bytes; an origin is scheme://host[:port] with no path.

Only the standard library is used. Nothing is written to disk: the output is
secret, so keep it out of files you do not mean to keep and out of shell history.
"""

import argparse
import base64
import json
import re
import secrets
import sys
from urllib.parse import urlsplit

# core/src/auth/api_keys.rs: valid_name, ClientRegistry::MIN_SECRET_LEN.
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MIN_SECRET_LEN = 16
# core/src/http/rate_limit.rs: TIERS, DEFAULT_TIER.
RATE_TIERS = ("standard", "high", "trial", "unmetered")
# core/src/objects/placement.rs: LOCATION_HINTS.
LOCATION_HINTS = ("wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me")
# core/src/auth/client_token.rs: MIN_HMAC_SECRET_BYTES, and the cap on max_lifetime_secs.
MIN_MINT_SECRET_BYTES = 32
DEFAULT_PORTS = {"http": 80, "https": 443}


def whsec():
    """A Standard Webhooks signing key: whsec_ + base64 of 32 random bytes (24-64 accepted)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def name(kind):
    """An argparse type for key_id and tenant: 1-64 of [A-Za-z0-9_-]."""

    def check(raw):
        if not NAME_RE.match(raw):
            raise argparse.ArgumentTypeError(
                "%s must be 1-64 of A-Z, a-z, 0-9, _ and - (got %r)" % (kind, raw)
            )
        return raw

    return check


def origin(raw):
    """An argparse type for an allowed origin, normalized as browsers send it.

    Mirrors normalize_origin in core/src/auth/tenants.rs: http or https, a host, no
    path but "/", no query, fragment or credentials; lower case, default port dropped.
    """
    bad = argparse.ArgumentTypeError(
        "an origin is scheme://host[:port], like https://shop.example.com "
        "(no *, no path, no query) (got %r)" % raw
    )
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        raise bad
    scheme = parts.scheme.lower()
    host = parts.hostname
    if (
        scheme not in DEFAULT_PORTS
        or not host
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "?" in raw
        or "#" in raw
        or parts.username is not None
        or "*" in host
    ):
        raise bad
    if not host.isascii():
        raise argparse.ArgumentTypeError(
            "give an internationalized host in its xn-- (punycode) form (got %r)" % raw
        )
    if ":" in host:  # an IPv6 literal
        host = "[%s]" % host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        return "%s://%s:%d" % (scheme, host, port)
    return "%s://%s" % (scheme, host)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=(
            "Print a new edgepay tenant's entries for the API_CLIENTS and TENANTS secrets "
            "as JSON on stdout: a server credential (key_id and secret), a callback "
            "signing secret (whsec_...) and the tenant's TENANTS entry. Append each "
            "entry to the deployment's current list, then put the whole list with "
            "`npx wrangler secret put API_CLIENTS` / `TENANTS` (docs/deploy.md). "
            "Nothing is written to disk."
        ),
        epilog=(
            "examples:\n"
            "  %(prog)s shop-a\n"
            "  %(prog)s shop-au --origin https://shop.example.com.au --client-tokens "
            "--location-hint oc\n"
            "  %(prog)s shop-a --backend-secret      # a first deployment: BACKEND_SECRET too\n"
            "  %(prog)s shop-a --credential-only     # a second credential for a listed tenant"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "tenant",
        type=name("tenant"),
        help="the tenant's name, 1-64 of [A-Za-z0-9_-]; it scopes every payment, "
        "idempotency key and rate limit of its callers",
    )
    parser.add_argument(
        "--key-id",
        type=name("--key-id"),
        help="the credential's key id (the Basic user name), 1-64 of [A-Za-z0-9_-], "
        "unique in API_CLIENTS; default: the tenant and 8 random hex digits",
    )
    parser.add_argument(
        "--origin",
        dest="origins",
        action="append",
        type=origin,
        default=[],
        metavar="ORIGIN",
        help="a browser origin allowed to call this tenant (CORS), scheme://host[:port]; "
        "repeat for several",
    )
    parser.add_argument(
        "--client-tokens",
        action="store_true",
        help="also generate client_tokens.mint_secret, so the tenant's server can mint "
        "client tokens with POST /client-tokens",
    )
    parser.add_argument(
        "--rate-tier",
        choices=RATE_TIERS,
        default="standard",
        help="the tenant's rate-limit tier (default: standard)",
    )
    parser.add_argument(
        "--location-hint",
        choices=LOCATION_HINTS,
        help="the region the tenant's payments are created in; set it before its first "
        "payment (docs/operating.md, placing a tenant's payments)",
    )
    parser.add_argument(
        "--credential-only",
        action="store_true",
        help="print only an API_CLIENTS entry without a callback_secret, and no TENANTS "
        "entry: a second credential for a tenant already listed (rotating its secret); "
        "the tenant's callbacks stay signed by its other entries' callback_secret, so move "
        "that to this entry before removing the old one",
    )
    parser.add_argument(
        "--backend-secret",
        action="store_true",
        help="also print a fresh BACKEND_SECRET (whsec_...): once per deployment, shared "
        "with the payment backend",
    )
    args = parser.parse_args(argv)
    if args.credential_only and (
        args.origins or args.client_tokens or args.location_hint or args.rate_tier != "standard"
    ):
        parser.error(
            "--credential-only prints no TENANTS entry; --origin, --client-tokens, "
            "--rate-tier and --location-hint belong to the tenant's existing entry"
        )
    return args


def build(args):
    key_id = args.key_id or "%s_%s" % (args.tenant[:55], secrets.token_hex(4))
    client = {
        "key_id": key_id,
        "secret": "sk_" + secrets.token_urlsafe(32),
        "tenant": args.tenant,
    }
    out = {"API_CLIENTS": [client]}
    if not args.credential_only:
        client["callback_secret"] = whsec()
        tenant = {"tenant": args.tenant, "rate_tier": args.rate_tier}
        if args.origins:
            tenant["allowed_origins"] = sorted(set(args.origins), key=args.origins.index)
        if args.client_tokens:
            tenant["client_tokens"] = {"mint_secret": secrets.token_urlsafe(MIN_MINT_SECRET_BYTES)}
        if args.location_hint:
            tenant["location_hint"] = args.location_hint
        out["TENANTS"] = [tenant]
    if args.backend_secret:
        out["BACKEND_SECRET"] = whsec()
    # The parser's own limits, checked once more on what is printed.
    assert NAME_RE.match(client["key_id"]) and NAME_RE.match(client["tenant"])
    assert len(client["secret"]) >= MIN_SECRET_LEN and not any(c.isspace() for c in client["secret"])
    return out


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    json.dump(build(args), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
