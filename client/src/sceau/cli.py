"""The ``sceau`` command: a thin shell over the library.

Exit codes (scripts rely on them):

* ``sign``: 0 every file sealed and its sidecar written; 1 refused (a sidecar already
  exists and ``--force`` was not given, or the service refused the request, e.g. a bad
  token or invalid metadata); 2 usage error, unreadable file, or service unreachable
  or unavailable.
* ``verify``: 0 the seal verifies and the content matches it; 1 verification failed or
  no seal found; 2 usage error, unreadable file, or keys unobtainable.
* ``inspect``: 0 shown; 1 no seal, or a seal that cannot be read; 2 usage or I/O error.
* ``keys fetch``: 0 saved; 2 otherwise.

:func:`main` returns the exit code and never calls :func:`sys.exit` itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

import httpx

from sceau import __version__
from sceau.atomic import atomic_write
from sceau.claim import (
    CREATIVE_WORK_LABEL,
    ClaimError,
    digital_source_type_uri,
    read_claim,
)
from sceau.client import BATCH_LIMIT, Client, SealRequest, SealResult
from sceau.envelope import CLAIM_PAYLOAD_TYPE, MAX_ENVELOPE_BYTES, parse_envelope
from sceau.errors import (
    KeyCustodyError,
    NoSealFoundError,
    RateLimitedError,
    SceauError,
    ServiceUnavailableError,
    TransportError,
    ValidationError,
)
from sceau.hashing import hash_file
from sceau.keyring import KeyRing
from sceau.mediatype import HEAD_SIZE, sniff
from sceau.readable import NO_SEAL_SUMMARY, describe_origin, iptc_term, report, summarize
from sceau.sidecar import SIDECAR_SUFFIX, read_sidecar, sidecar_path, write_sidecar
from sceau.strictjson import loads
from sceau.timefmt import format_time
from sceau.verify import Integrity, SignatureState, Status, Verdict, seal_id, verify_seal

__all__ = ["DEFAULT_SERVER", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main"]

DEFAULT_SERVER = "http://127.0.0.1:8000"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
_MAX_JWKS_BYTES = 16 << 20
_NOT_ATTESTED = "not independently attested"

# -- argument parsing ------------------------------------------------------------------


class _ParserExit(Exception):  # noqa: N818 (not an error: --help exits too)
    """argparse wanted to exit; :func:`main` turns this into a return value."""

    def __init__(self, status: int, message: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of calling :func:`sys.exit`."""

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _ParserExit(status, message)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise _ParserExit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _add_server(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", metavar="URL",
                   default=os.environ.get("SCEAU_SERVER") or DEFAULT_SERVER,
                   help="Sceau service URL (env SCEAU_SERVER; default %(default)s)")


def _build_parser() -> _Parser:
    parser = _Parser(prog="sceau", description="Seal media with signed provenance "
                     "manifests and verify them.")
    parser.add_argument("--version", action="version", version=f"sceau {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sign = commands.add_parser(
        "sign", help="seal files (hashed locally; media never leaves this machine)",
        description="Hash each file locally, ask the service to seal it, and write "
                    "<file>.sceau.json next to it.  Prints one line per file: path, TAB, "
                    "seal id.")
    sign.add_argument("files", nargs="+", metavar="FILE")
    _add_server(sign)
    sign.add_argument("--token", default=os.environ.get("SCEAU_TOKEN"),
                      help="bearer token with the 'sign' scope (env SCEAU_TOKEN)")
    sign.add_argument("--sidecar", action="store_true",
                      help="attach the seal as a <file>.sceau.json sidecar (the default, "
                           "and for now the only attachment)")
    sign.add_argument("--force", action="store_true",
                      help="seal again even if a sidecar exists (replaces it)")
    sign.add_argument("--media-type", metavar="TYPE",
                      help="media type for every file (default: detected from its bytes)")
    sign.add_argument("--digital-source-type", metavar="TERM",
                      help="IPTC digital source type, e.g. digitalCapture or "
                           "trainedAlgorithmicMedia (default: the service's, digitalCapture)")
    sign.add_argument("--title", help="dc:title for every file (default: none; file names "
                      "are not put in signed claims unless asked, as they may reveal sources)")
    sign.add_argument("--author", action="append", metavar="NAME",
                      help="creator's name (repeatable)")
    sign.add_argument("--publisher", metavar="NAME", help="publishing organisation")

    verify = commands.add_parser(
        "verify", help="check a file against its seal",
        description="Verify FILE against its sidecar seal with keys from --keys or the "
                    "service's JWKS.  Exit 0 when the seal verifies and the content "
                    "matches, 1 when it does not or there is no seal, 2 on errors.")
    verify.add_argument("file", metavar="FILE")
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    _add_server(verify)
    verify.add_argument("--keys", metavar="JWKS_FILE",
                        help="verify offline with keys saved by 'sceau keys fetch'")
    verify.add_argument("--trust", action="append", metavar="TENANT",
                        help="trust only these signers (repeatable; default: every "
                             "tenant in the key set)")

    inspect = commands.add_parser(
        "inspect", help="show what a seal says (does not verify it)",
        description="Print the claim in FILE's seal (or in a .sceau.json file given "
                    "directly).  Nothing is verified: use 'sceau verify' for that.")
    inspect.add_argument("file", metavar="FILE")
    inspect.add_argument("--json", action="store_true", help="print the claim as JSON")

    keys = commands.add_parser("keys", help="manage verification keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True,
                                        metavar="ACTION")
    fetch = keys_commands.add_parser("fetch", help="save the service's JWKS for offline "
                                     "'verify --keys'")
    _add_server(fetch)
    fetch.add_argument("-o", "--output", metavar="FILE", default="-",
                       help="where to write the JWKS (default: standard output)")
    return parser


# -- output helpers --------------------------------------------------------------------


def _out(text: str = "") -> None:
    print(text, file=sys.stdout, flush=True)


def _err(text: str) -> None:
    print(f"error: {text}", file=sys.stderr)


def _lib_error(exc: SceauError, prefix: str = "") -> None:
    print(f"error: {prefix}{exc.code}: {exc.detail}", file=sys.stderr)


def _io_error(exc: OSError, path: str | os.PathLike[str] | None = None) -> None:
    name = exc.filename if exc.filename is not None else path
    reason = exc.strerror or str(exc)
    _err(f"{name}: {reason}" if name is not None else reason)


def _show(value: Any) -> str:
    """A claim-supplied value made safe for a terminal (no escape sequences)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _dump_json(doc: Any, stream: TextIO | None = None) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False), file=stream or sys.stdout)


def _service_exit(exc: SceauError) -> int:
    """Exit code for a failed service call: 2 when the service could not be used at all
    (unreachable, unavailable, rate limited), 1 when it answered and refused."""
    if isinstance(exc, TransportError | ServiceUnavailableError | KeyCustodyError
                  | RateLimitedError):
        return EXIT_USAGE
    return EXIT_FAILED


# -- sign ------------------------------------------------------------------------------


def _cmd_sign(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    if args.digital_source_type is not None:
        try:
            digital_source_type_uri(args.digital_source_type)
        except ValidationError as exc:
            _lib_error(exc)
            return EXIT_USAGE
    if not args.token:
        _err("no token: pass --token or set SCEAU_TOKEN (sealing needs the 'sign' scope)")
        return EXIT_USAGE

    # Pre-flight: nothing is hashed or sealed unless every file can be.
    paths: list[Path] = []
    names: list[str] = []  # as given, for the output lines
    seen: set[str] = set()
    status = EXIT_OK
    for name in args.files:
        path = Path(name)
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        if path.name.endswith(SIDECAR_SUFFIX):
            _err(f"{name}: is a seal sidecar, not media")
            status = EXIT_USAGE
            continue
        try:
            path.stat()
        except OSError as exc:
            _io_error(exc, name)
            status = EXIT_USAGE
            continue
        if not path.is_file():
            _err(f"{name}: not a regular file")
            status = EXIT_USAGE
            continue
        side = sidecar_path(path)
        if not args.force and (side.exists() or side.is_symlink()):
            _err(f"{name}: already sealed ({side} exists); use --force to seal it again")
            status = max(status, EXIT_FAILED)
            continue
        paths.append(path)
        names.append(name)
    if status != EXIT_OK:
        return status

    requests: list[SealRequest] = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                head = f.read(HEAD_SIZE)
            digest = hash_file(path)
        except OSError as exc:
            _io_error(exc, path)
            return EXIT_USAGE
        requests.append(SealRequest(
            digest=digest,
            media_type=args.media_type or sniff(head),
            title=args.title,
            digital_source_type=args.digital_source_type,
            author=args.author,
            publisher=args.publisher,
        ))

    status = EXIT_OK
    with Client(args.server, args.token, transport=transport) as client:
        for start in range(0, len(requests), BATCH_LIMIT):
            chunk = requests[start:start + BATCH_LIMIT]
            chunk_paths = paths[start:start + BATCH_LIMIT]
            chunk_names = names[start:start + BATCH_LIMIT]
            try:
                results: list[SealResult]
                if len(requests) == 1:
                    r = chunk[0]
                    results = [client.seal(r.digest, media_type=r.media_type, title=r.title,
                                           digital_source_type=r.digital_source_type,
                                           author=r.author, publisher=r.publisher)]
                else:
                    results = client.seal_batch(chunk)
            except SceauError as exc:
                _lib_error(exc)
                if start:
                    _err(f"the first {start} file(s) were sealed; the rest were not")
                return _service_exit(exc)
            for name, path, result in zip(chunk_names, chunk_paths, results, strict=True):
                status = max(status, _attach(name, path, result, force=args.force))
            if status != EXIT_OK:
                break
    return status


def _attach(name: str, path: Path, result: SealResult, *, force: bool) -> int:
    """Write one sidecar; print ``name TAB seal-id`` on success."""
    side = sidecar_path(path)
    try:
        write_sidecar(path, result.envelope_bytes, overwrite=force)
    except FileExistsError:
        _err(f"{side} appeared while sealing; left as it is (seal {result.seal_id} was "
             "created but not attached)")
        return EXIT_FAILED
    except OSError as exc:
        _io_error(exc, side)
        _err(f"seal {result.seal_id} for {name} was created but not attached")
        return EXIT_USAGE
    _out(f"{name}\t{result.seal_id}")
    return EXIT_OK


# -- verify ----------------------------------------------------------------------------


def _load_keys(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> KeyRing:
    """The verifier's key ring, from ``--keys`` or the service; raises SceauError/OSError."""
    trusted = args.trust or None
    if args.keys is not None:
        with open(args.keys, "rb") as f:
            data = f.read(_MAX_JWKS_BYTES + 1)
        doc = loads(data, max_bytes=_MAX_JWKS_BYTES)
        if not isinstance(doc, dict):
            raise ValidationError(f"{args.keys} is not a JWKS document")
        return KeyRing.from_jwks(doc, trusted)
    with Client(args.server, transport=transport) as client:
        return client.keyring(trusted)


def _verified(verdict: Verdict) -> bool:
    return verdict.ok and verdict.integrity is Integrity.MATCH


def _print_verdict(path: str, verdict: Verdict) -> None:
    headline, _, why = summarize(verdict).partition(": ")
    _out(f"{path}: {headline.upper()} - {why}")
    _out(f"  seal        {verdict.seal_id or '-'}")
    if verdict.tenant is not None:
        if verdict.signature is not SignatureState.VALID:
            trust = "signature not valid"
        elif verdict.signer_trusted:
            trust = "trusted"
        else:
            trust = "NOT on your trust list"
        _out(f"  signer      tenant {_show(verdict.tenant)} ({trust})")
    if verdict.keyid is not None:
        if Status.CREDENTIAL_UNKNOWN in verdict.status_codes:
            state = "not in your key ring"
        elif verdict.tenant is None:
            state = "not checked"
        else:
            state = verdict.key_state.value
        _out(f"  key         {_show(verdict.keyid)} ({state})")
    if verdict.signer_time is not None:
        _out(f"  signed at   {format_time(verdict.signer_time)} by the signer's clock "
             f"({_NOT_ATTESTED})")
    integrity = {
        Integrity.MATCH: "match: the file is byte for byte what was sealed",
        Integrity.MISMATCH: "MISMATCH: the file is not what was sealed",
        Integrity.NOT_CHECKED: "not checked",
    }[verdict.integrity]
    _out(f"  integrity   {integrity}")
    if verdict.claim is not None:
        _out(f"  origin      {describe_origin(verdict.claim)} (as the signer states)")
    _out(f"  status      {', '.join(verdict.status_codes)}")


def _cmd_verify(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    path = Path(args.file)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        _io_error(exc, path)
        return EXIT_USAGE
    try:
        seal = read_sidecar(path)
    except NoSealFoundError:
        if args.json:
            _dump_json({"file": args.file, "ok": False, "seal_id": None,
                        "status_codes": [], "summary": NO_SEAL_SUMMARY, "label": None})
        else:
            _out(f"{args.file}: {NO_SEAL_SUMMARY}")
        return EXIT_FAILED
    except SceauError as exc:  # a sidecar too large to be a seal
        _lib_error(exc)
        return EXIT_FAILED
    except OSError as exc:
        _io_error(exc, sidecar_path(path))
        return EXIT_USAGE
    try:
        ring = _load_keys(args, transport)
    except OSError as exc:
        _io_error(exc, args.keys)
        return EXIT_USAGE
    except SceauError as exc:
        source = args.keys if args.keys is not None else args.server
        _lib_error(exc, f"cannot get keys from {source}: ")
        return EXIT_USAGE
    try:
        digest = hash_file(path)
    except OSError as exc:
        _io_error(exc, path)
        return EXIT_USAGE
    verdict = verify_seal(seal, ring, now=datetime.now(UTC), content=digest)
    if args.json:
        _dump_json({"file": args.file, **report(verdict)})
    else:
        _print_verdict(args.file, verdict)
    return EXIT_OK if _verified(verdict) else EXIT_FAILED


# -- inspect ---------------------------------------------------------------------------


def _read_seal_for_inspect(name: str) -> tuple[Path, bytes]:
    """The seal bytes for ``inspect``: FILE's sidecar, or FILE itself if it is one."""
    path = Path(name)
    if path.name.endswith(SIDECAR_SUFFIX) and path.is_file():
        with open(path, "rb") as f:
            return path, f.read(MAX_ENVELOPE_BYTES + 1)
    with open(path, "rb"):
        pass
    return sidecar_path(path), read_sidecar(path)


def _cmd_inspect(args: argparse.Namespace) -> int:
    try:
        where, data = _read_seal_for_inspect(args.file)
    except NoSealFoundError:
        _out(f"{args.file}: {NO_SEAL_SUMMARY}")
        return EXIT_FAILED
    except SceauError as exc:
        _lib_error(exc)
        return EXIT_FAILED
    except OSError as exc:
        _io_error(exc, args.file)
        return EXIT_USAGE
    try:
        envelope = parse_envelope(data)
        if envelope.payload_type != CLAIM_PAYLOAD_TYPE:
            raise ValidationError(f"payload type {envelope.payload_type!r} is not a claim")
        obj = loads(envelope.payload)
        claim = read_claim(obj)
    except ClaimError as exc:
        _lib_error(exc, f"{exc.status}: ")
        return EXIT_FAILED
    except SceauError as exc:
        _lib_error(exc)
        return EXIT_FAILED
    if args.json:
        _dump_json(obj)
        return EXIT_OK
    raw: Mapping[str, Any] = claim.raw
    _out(f"{where}  (NOT VERIFIED: inspect only reads the seal; run 'sceau verify')")
    _out(f"  seal id       {seal_id(envelope)}")
    _out(f"  title         {_show(claim.title) if claim.title is not None else '-'}")
    _out(f"  format        {_show(claim.media_type)}")
    _out(f"  signer        tenant {_show(claim.tenant)}, key {_show(claim.keyid)}")
    _out(f"  created       {format_time(claim.created)} (signer's clock, {_NOT_ATTESTED})")
    generators = raw.get("claim_generator_info")
    if isinstance(generators, list) and generators and isinstance(generators[0], dict):
        gen = generators[0]
        _out(f"  generator     {_show(gen.get('name', '?'))} {_show(gen.get('version', ''))}")
    _out(f"  origin        {describe_origin(claim)} (as the signer states)")
    _out("  actions")
    for action in claim.actions:
        parts = [_show(action.get("action"))]
        if "digitalSourceType" in action:
            term = iptc_term(action["digitalSourceType"])
            parts.append(f"digitalSourceType={_show(term)}")
        agent = action.get("softwareAgent")
        if isinstance(agent, Mapping):
            parts.append("softwareAgent=" + _show(
                " ".join(str(agent[k]) for k in ("name", "version") if k in agent)))
        elif agent is not None:
            parts.append(f"softwareAgent={_show(agent)}")
        if "when" in action:
            parts.append(f"when={_show(action['when'])}")
        _out("    - " + "  ".join(parts))
    b = claim.binding
    excl = f", {len(b.exclusions)} exclusion(s)" if b.exclusions else ""
    _out(f"  hard binding  c2pa.hash.data {b.alg} {b.digest.hex()} ({b.size} bytes{excl})")
    if claim.ingredients:
        _out("  ingredients")
        for ing in claim.ingredients:
            line = f"    - {_show(ing.get('relationship'))}"
            if "dc:title" in ing:
                line += f"  {_show(ing['dc:title'])}"
            if "seal_id" in ing:
                line += f"  seal {_show(ing['seal_id'])}"
            _out(line)
    creators, publisher = _creative_work(raw)
    if creators:
        _out(f"  creator       {', '.join(_show(c) for c in creators)}")
    if publisher is not None:
        _out(f"  publisher     {_show(publisher)}")
    return EXIT_OK


def _creative_work(raw: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """Authors' and publisher's names from the schema.org CreativeWork assertion."""
    creators: list[str] = []
    publisher: str | None = None
    assertions = raw.get("assertions")
    for assertion in assertions if isinstance(assertions, list) else []:
        if not isinstance(assertion, dict) or assertion.get("label") != CREATIVE_WORK_LABEL:
            continue
        data = assertion.get("data")
        if not isinstance(data, dict):
            continue
        authors = data.get("author")
        for author in authors if isinstance(authors, list) else [authors]:
            if isinstance(author, dict) and isinstance(author.get("name"), str):
                creators.append(author["name"])
            elif isinstance(author, str):
                creators.append(author)
        pub = data.get("publisher")
        if isinstance(pub, dict) and isinstance(pub.get("name"), str):
            publisher = pub["name"]
        elif isinstance(pub, str):
            publisher = pub
    return creators, publisher


# -- keys ------------------------------------------------------------------------------


def _cmd_keys_fetch(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    try:
        with Client(args.server, transport=transport) as client:
            doc = client.jwks()
        ring = KeyRing.from_jwks(doc)
    except SceauError as exc:
        _lib_error(exc, f"cannot get keys from {args.server}: ")
        return EXIT_USAGE
    text = json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    try:
        atomic_write(args.output, text.encode("utf-8"))
    except OSError as exc:
        _io_error(exc, args.output)
        return EXIT_USAGE
    _out(f"saved {len(ring)} key(s) from {args.server} to {args.output}")
    return EXIT_OK


# -- entry point -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, *,
         transport: httpx.BaseTransport | None = None) -> int:
    """Run the ``sceau`` command with ``argv`` (default ``sys.argv[1:]``) and return its
    exit code.  ``transport`` replaces the network (tests pass an ``httpx.MockTransport``).
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except _ParserExit as exc:
        if exc.message:
            sys.stderr.write(exc.message)
        return exc.status
    try:
        if args.command == "sign":
            return _cmd_sign(args, transport)
        if args.command == "verify":
            return _cmd_verify(args, transport)
        if args.command == "inspect":
            return _cmd_inspect(args)
        if args.command == "keys":
            return _cmd_keys_fetch(args, transport)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except SceauError as exc:
        _lib_error(exc)
        return EXIT_USAGE
    except OSError as exc:
        _io_error(exc)
        return EXIT_USAGE
    parser.print_usage(sys.stderr)
    return EXIT_USAGE
