"""The ``sceau`` command: a thin shell over the library.

Exit codes (scripts rely on them):

* ``sign``: 0 every file sealed (seal embedded, or its sidecar written); 1 refused (the
  file is already sealed and ``--force`` was not given, or the service refused the
  request, e.g. a bad token or invalid metadata); 2 usage error, unreadable file, or
  service unreachable or unavailable.
* ``verify``: 0 the seal verifies and the content matches it; 1 verification failed, no
  seal found, or the file's container is malformed; 2 usage error, unreadable file, or
  keys unobtainable.
* ``inspect``: 0 shown; 1 no seal, or a seal that cannot be read; 2 usage or I/O error.
* ``strip``: 0 every file's embedded seal removed; 1 some file had none; 2 usage, I/O or
  malformed-file error.
* ``keys fetch``: 0 saved; 2 usage, network or file error.  With ``--bundle`` (a tenant's
  signed key history, SPEC.md §6.2): 3 the history does not verify against the pin or the
  saved bundle (signatures, chain, expired); 4 rollback or fork (older than, or different
  from, the history already saved).
* ``log key``: 0 printed or saved; 2 otherwise.
* ``log verify`` (a transparency log monitor): 0 the latest checkpoint verifies and is
  consistent with the saved one (or is the first one saved); 3 the checkpoint's signature
  does not verify with the pinned log keys; 4 rollback (the log is smaller, or dated
  earlier, than the saved checkpoint); 5 fork (another tree of the same size, or a
  consistency proof that fails); 2 usage, network or state file error.

:func:`main` returns the exit code and never calls :func:`sys.exit` itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

import httpx

from sceau import __version__
from sceau.atomic import atomic_write
from sceau.canonical import canonicalize
from sceau.checkpoint import CheckpointError, LogKey
from sceau.chunking import is_valid_chunk_size
from sceau.claim import (
    CREATIVE_WORK_LABEL,
    ClaimError,
    digital_source_type_uri,
    read_claim,
)
from sceau.client import BATCH_LIMIT, Client, SealResult
from sceau.envelope import CLAIM_PAYLOAD_TYPE, MAX_ENVELOPE_BYTES, parse_envelope
from sceau.errors import (
    ConflictError,
    KeyCustodyError,
    KeyHistoryError,
    KeyHistoryForkError,
    KeyHistoryRollbackError,
    MalformedMediaError,
    NoSealFoundError,
    NotFoundError,
    RateLimitedError,
    SceauError,
    ServiceUnavailableError,
    TransportError,
    UnsupportedMediaError,
    ValidationError,
)
from sceau.keyhistory import TrustBundle, update_trust_bundle, verify_seal_with_history
from sceau.keyring import KeyRing
from sceau.media import (
    EmbeddedSeal,
    MediaFile,
    PreparedSeal,
    RegionTooSmallError,
    attach,
    binding_digest,
    find_embedded,
    prepare,
    probe,
)
from sceau.monitor import MonitorState, Outcome, monitor_log
from sceau.readable import NO_SEAL_SUMMARY, describe_origin, iptc_term, report, summarize
from sceau.sidecar import SIDECAR_SUFFIX, read_sidecar, sidecar_path
from sceau.strictjson import loads
from sceau.timefmt import format_time
from sceau.verify import (
    ContentDigest,
    Integrity,
    SignatureState,
    Status,
    Verdict,
    seal_id,
    verify_seal,
)

__all__ = ["DEFAULT_SERVER", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main"]

_T = TypeVar("_T")

DEFAULT_SERVER = "http://127.0.0.1:8000"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
_MAX_JWKS_BYTES = 16 << 20
_MAX_LOG_KEY_BYTES = 64 << 10
EXIT_LOG_BAD_SIGNATURE = 3
EXIT_LOG_ROLLBACK = 4
EXIT_LOG_FORK = 5
_NOT_ATTESTED = "not independently attested"
#: A batch request body stays below the service's 4 MiB limit (chunked seals are large).
_MAX_BATCH_BODY = 3 << 20
#: Progress is shown by default (on a terminal) for jobs at least this big.
_PROGRESS_BYTES = 64 << 20
_PROGRESS_FILES = 20

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
        description="Hash each file locally, ask the service to seal it, and attach the "
                    "seal: embedded in JPEG, PNG, WebP and MP4/MOV (ISO BMFF) files, in "
                    "<file>.sceau.json next to any other file.  Prints one line per file: "
                    "path, TAB, seal id.")
    sign.add_argument("files", nargs="+", metavar="FILE")
    _add_server(sign)
    sign.add_argument("--token", default=os.environ.get("SCEAU_TOKEN"),
                      help="bearer token with the 'sign' scope (env SCEAU_TOKEN)")
    sign.add_argument("--sidecar", action="store_true",
                      help="attach the seal as a <file>.sceau.json sidecar, even to a file "
                           "that could carry it embedded")
    sign.add_argument("--force", action="store_true",
                      help="seal an already sealed file again: the new seal replaces the "
                           "old one and names it as its parent ingredient")
    sign.add_argument("--chunk-size", type=int, default=None, metavar="BYTES",
                      help="use the chunked (Merkle) hash with chunks of this size (a power "
                           "of two from 1024 to 2^30; default: chunked with 4 MiB chunks "
                           "for files of 64 MiB and more, a plain SHA-256 below)")
    sign.add_argument("--jobs", type=int, default=None, metavar="N",
                      help="files hashed and written at once (default: the CPU count)")
    sign.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="show bytes and files done on stderr (default: for big jobs "
                           "when stderr is a terminal)")
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
        description="Verify FILE against its seal (embedded in the file, else its "
                    "sidecar) with keys from --keys or the service's JWKS.  Exit 0 when "
                    "the seal verifies and the content matches, 1 when it does not or "
                    "there is no seal, 2 on errors.")
    verify.add_argument("file", metavar="FILE")
    verify.add_argument("--json", action="store_true", help="print the verdict as JSON")
    _add_server(verify)
    verify.add_argument("--keys", metavar="JWKS_FILE",
                        help="verify offline with keys saved by 'sceau keys fetch'")
    verify.add_argument("--trust-bundle", metavar="BUNDLE_FILE",
                        help="verify offline with a tenant's signed key history saved by "
                             "'sceau keys fetch --bundle' (trusts that tenant only)")
    verify.add_argument("--trust", action="append", metavar="TENANT",
                        help="trust only these signers (repeatable; default: every "
                             "tenant in the key set)")
    verify.add_argument("--log-key", metavar="FILE",
                        help="transparency log verifier keys, one per line (saved by 'sceau "
                             "log key'); default: the service's, unless --keys is given")
    verify.add_argument("--require-log", action="store_true",
                        help="fail seals that carry no transparency log proof (a seal made "
                             "with a stolen key outside the service has none)")

    inspect = commands.add_parser(
        "inspect", help="show what a seal says (does not verify it)",
        description="Print the claim in FILE's seal (or in a .sceau.json file given "
                    "directly).  Nothing is verified: use 'sceau verify' for that.")
    inspect.add_argument("file", metavar="FILE")
    inspect.add_argument("--json", action="store_true", help="print the claim as JSON")

    strip = commands.add_parser(
        "strip", help="remove embedded seals, restoring the files' original bytes",
        description="Remove the Sceau seal embedded in each FILE; the file is then byte "
                    "for byte what it was before it was sealed.  Other metadata (C2PA, "
                    "Exif, XMP) is left as it is.  Sidecars are not touched.")
    strip.add_argument("files", nargs="+", metavar="FILE")

    keys = commands.add_parser("keys", help="manage verification keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True,
                                        metavar="ACTION")
    fetch = keys_commands.add_parser(
        "fetch", help="save the service's JWKS for offline 'verify --keys', or a tenant's "
                      "signed key history for 'verify --trust-bundle'",
        description="Without --bundle: save the service's JWKS.  With --bundle FILE: fetch "
                    "a tenant's signed key history, verify it, and save it as a trust "
                    "bundle.  The first fetch pins the tenant's root key (--pin-root) or a "
                    "signing key (--pin-key), or, with --trust-on-first-use, whatever key "
                    "the service shows first; later fetches walk forward from the saved "
                    "bundle and refuse an older or different history.  Key ids may "
                    "start with '-': write --pin-root=KEYID.")
    _add_server(fetch)
    fetch.add_argument("-o", "--output", metavar="FILE", default="-",
                       help="where to write the JWKS (default: standard output)")
    fetch.add_argument("--bundle", metavar="FILE",
                       help="create or update this trust bundle (needs --tenant the first "
                            "time)")
    fetch.add_argument("--tenant", metavar="SLUG", help="the tenant whose history to fetch")
    fetch.add_argument("--pin-root", metavar="KEYID",
                       help="first fetch: trust the history that this root key vouches for")
    fetch.add_argument("--pin-key", metavar="KEYID",
                       help="first fetch: trust the history that this signing key vouches "
                            "for")
    fetch.add_argument("--trust-on-first-use", action="store_true",
                       help="first fetch: pin the first key the history names (check its "
                            "id out of band)")

    log = commands.add_parser("log", help="the service's transparency log")
    log_commands = log.add_subparsers(dest="log_command", required=True, metavar="ACTION")
    log_key = log_commands.add_parser(
        "key", help="print or save the log's verifier keys (for --log-key)")
    _add_server(log_key)
    log_key.add_argument("-o", "--output", metavar="FILE", default="-",
                         help="where to write the keys (default: standard output)")
    monitor = log_commands.add_parser(
        "verify", help="monitor the log: is its latest checkpoint consistent with the last "
                       "one seen?",
        description="Fetch the log's latest checkpoint, verify its signature, and check it "
                    "is consistent with the checkpoint saved by the previous run (RFC 9162 "
                    "consistency proof).  Exit 0 consistent, 3 bad signature, 4 rollback, "
                    "5 fork, 2 on errors.  The first run pins the log keys (from --log-key, "
                    "else the service's) in the state file.")
    _add_server(monitor)
    monitor.add_argument("--state", metavar="FILE",
                         help="where the last verified checkpoint is kept (default: "
                              "$XDG_STATE_HOME/sceau/log-<server>.json)")
    monitor.add_argument("--log-key", metavar="FILE",
                         help="log verifier keys to use (and pin) instead of the saved ones")
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
    if args.chunk_size is not None and not is_valid_chunk_size(args.chunk_size):
        _err("--chunk-size must be a power of two from 1024 to 1073741824")
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

    progress = _Progress.for_job(args.progress, paths)
    jobs = max(1, args.jobs or os.cpu_count() or 1)
    options: dict[str, Any] = {
        "sidecar": args.sidecar, "force": args.force, "media_type": args.media_type,
        "title": args.title, "digital_source_type": args.digital_source_type,
        "author": args.author, "publisher": args.publisher, "chunk_size": args.chunk_size}

    def plan(path: Path) -> PreparedSeal:
        prepared = prepare(path, progress=progress.add, **options)
        progress.file_done()
        return prepared

    try:
        outcomes = _parallel(plan, paths, jobs)
    finally:
        progress.close()
    plans: list[PreparedSeal] = []
    for name, outcome in zip(names, outcomes, strict=True):
        if isinstance(outcome, ConflictError):
            _err(outcome.detail)
            status = max(status, EXIT_FAILED)
        elif isinstance(outcome, OSError):
            _io_error(outcome, name)
            status = EXIT_USAGE
        elif isinstance(outcome, SceauError):
            _lib_error(outcome, f"{name}: ")
            status = EXIT_USAGE
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            plans.append(outcome)
    if status != EXIT_OK:
        return status

    name_of = dict(zip(paths, names, strict=True))
    with Client(args.server, args.token, transport=transport) as client:
        done = 0
        for batch in _batches(plans):
            try:
                results = _seal_all(client, batch, single=len(plans) == 1)
            except SceauError as exc:
                _lib_error(exc)
                if done:
                    _err(f"the first {done} file(s) were sealed; the rest were not")
                return _service_exit(exc)
            attached = _parallel(lambda pr: _attach(*pr), list(zip(batch, results,
                                                                    strict=True)), jobs)
            retry = [(i, o) for i, o in enumerate(attached)
                     if isinstance(o, RegionTooSmallError)]
            if retry:  # the service's seal outgrew its room: seal those again, larger
                for i, _ in retry:
                    print(f"note: {name_of[batch[i].path]}: seal {results[i].seal_id} was "
                          "larger than the room reserved for it; sealed again with more "
                          "room (that seal stays unattached)", file=sys.stderr)
                bigger = [batch[i].with_room(o.needed) for i, o in retry
                          if isinstance(o, RegionTooSmallError)]
                try:
                    again = _seal_all(client, bigger, single=len(bigger) == 1)
                except SceauError as exc:
                    _lib_error(exc)
                    return _service_exit(exc)
                second = _parallel(lambda pr: _attach(*pr), list(zip(bigger, again,
                                                                      strict=True)), jobs)
                for (i, _), prepared, outcome, result in zip(retry, bigger, second, again,
                                                             strict=True):
                    batch[i], attached[i], results[i] = prepared, outcome, result
            for prepared, result, outcome in zip(batch, results, attached, strict=True):
                name = name_of[prepared.path]
                status = max(status, _report_attach(name, prepared, result, outcome))
            done += len(batch)
            if status != EXIT_OK:
                break
    return status


def _parallel(fn: Callable[[_T], Any], items: Sequence[_T], jobs: int) -> list[Any]:
    """``fn`` over ``items`` on ``jobs`` threads; each result or the exception it raised,
    in order (hashing and fsync release the GIL, so files proceed side by side)."""

    def guarded(item: _T) -> Any:
        try:
            return fn(item)
        except Exception as exc:  # reported per file by the caller
            return exc

    if jobs == 1 or len(items) <= 1:
        return [guarded(item) for item in items]
    with ThreadPoolExecutor(min(jobs, len(items)), thread_name_prefix="sceau-file") as pool:
        return list(pool.map(guarded, items))


def _batches(plans: list[PreparedSeal]) -> list[list[PreparedSeal]]:
    """Consecutive groups within the service's item and body limits."""
    batches: list[list[PreparedSeal]] = []
    current: list[PreparedSeal] = []
    size = 0
    for prepared in plans:
        item = len(canonicalize(prepared.request.to_json())) + 1
        if current and (len(current) >= BATCH_LIMIT or size + item > _MAX_BATCH_BODY):
            batches.append(current)
            current, size = [], 0
        current.append(prepared)
        size += item
    if current:
        batches.append(current)
    return batches


def _seal_all(client: Client, batch: list[PreparedSeal], *, single: bool) -> list[SealResult]:
    if single:
        return [client.seal_request(batch[0].request)]
    return client.seal_batch([p.request for p in batch])


def _attach(prepared: PreparedSeal, result: SealResult) -> object:
    """Attach one seal; returns where it went."""
    return attach(prepared, result)


def _report_attach(name: str, prepared: PreparedSeal, result: SealResult,
                   outcome: object) -> int:
    """Print ``name TAB seal-id`` on success; explain a failure."""
    if isinstance(outcome, FileExistsError):
        _err(f"{sidecar_path(prepared.path)} appeared while sealing; left as it is (seal "
             f"{result.seal_id} was created but not attached)")
        return EXIT_FAILED
    if isinstance(outcome, OSError):
        _io_error(outcome, prepared.path)
        _err(f"seal {result.seal_id} for {name} was created but not attached")
        return EXIT_USAGE
    if isinstance(outcome, SceauError):
        _lib_error(outcome, f"{name}: ")
        _err(f"seal {result.seal_id} for {name} was created but not attached")
        return EXIT_FAILED if isinstance(outcome, UnsupportedMediaError) else EXIT_USAGE
    if isinstance(outcome, BaseException):
        raise outcome
    for note in prepared.notes:
        print(f"note: {name}: {note}", file=sys.stderr)
    _out(f"{name}\t{result.seal_id}")
    return EXIT_OK


class _Progress:
    """Bytes and files hashed, on one stderr line rewritten in place (thread-safe)."""

    def __init__(self, total_bytes: int, total_files: int, enabled: bool) -> None:
        self.total_bytes, self.total_files, self.enabled = total_bytes, total_files, enabled
        self.bytes = self.files = 0
        self._lock = threading.Lock()
        self._start = self._shown = time.monotonic()

    @classmethod
    def for_job(cls, wanted: bool | None, paths: Sequence[Path]) -> _Progress:
        total = 0
        for path in paths:
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        if wanted is None:
            wanted = sys.stderr.isatty() and (total >= _PROGRESS_BYTES
                                              or len(paths) >= _PROGRESS_FILES)
        return cls(total, len(paths), wanted)

    def add(self, n: int) -> None:
        """``n`` more bytes hashed."""
        if self.enabled:
            with self._lock:
                self.bytes += n
                self._show()

    def file_done(self) -> None:
        """One more file hashed."""
        if self.enabled:
            with self._lock:
                self.files += 1
                self._show(force=self.files == self.total_files)

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._shown < 0.1:
            return
        self._shown = now
        rate = self.bytes / max(now - self._start, 1e-6)
        sys.stderr.write(f"\rhashing: {self.files}/{self.total_files} files, "
                         f"{_human(self.bytes)} of {_human(self.total_bytes)} "
                         f"({_human(rate)}/s)   ")
        sys.stderr.flush()

    def close(self) -> None:
        """End the progress line."""
        if self.enabled and (self.bytes or self.files):
            sys.stderr.write("\n")
            sys.stderr.flush()


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


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


def _verifier(args: argparse.Namespace,
              transport: httpx.BaseTransport | None) -> Callable[..., Verdict]:
    """How ``verify`` checks a seal: against a trust bundle's key history (SPEC.md §6.2),
    or :func:`verify_seal` with the ring of ``--keys`` or the service."""
    if args.trust_bundle is None:
        ring = _load_keys(args, transport)
        return lambda seal, **kw: verify_seal(seal, ring, **kw)
    if args.keys is not None or args.trust:
        raise ValidationError("--trust-bundle trusts its own tenant: --keys and --trust do "
                              "not apply")
    bundle = _read_bundle(args.trust_bundle)
    # A history that no longer verifies (expired, tampered) is a failing verdict with its
    # sceau.keyHistory.* code, not an error: the seal cannot be vouched for.
    return lambda seal, **kw: verify_seal_with_history(seal, dict(bundle.document),
                                                       bundle.anchor, **kw)


def _read_bundle(path: str | os.PathLike[str]) -> TrustBundle:
    with open(path, "rb") as f:
        data = f.read(_MAX_JWKS_BYTES + 1)
    if len(data) > _MAX_JWKS_BYTES:
        raise ValidationError(f"{path}: too large for a trust bundle")
    return TrustBundle.from_bytes(data)


def _read_log_keys(path: str) -> list[LogKey]:
    """Verifier keys from a file: one per line; blank lines and ``#`` comments skipped."""
    with open(path, "rb") as f:
        data = f.read(_MAX_LOG_KEY_BYTES + 1)
    if len(data) > _MAX_LOG_KEY_BYTES:
        raise ValidationError(f"{path}: too large for a list of log keys")
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValidationError(f"{path}: not UTF-8 text") from None
    keys = []
    for n, line in enumerate(lines, 1):
        line = line.strip()  # noqa: PLW2901
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(LogKey.from_vkey(line))
        except CheckpointError as exc:
            raise ValidationError(f"{path}:{n}: {exc}") from None
    if not keys:
        raise ValidationError(f"{path}: no log key")
    return keys


def _load_log_keys(args: argparse.Namespace,
                   transport: httpx.BaseTransport | None) -> list[LogKey] | None:
    """The transparency log keys for ``verify``: ``--log-key``, else the service's (None
    when it keeps no log), and none offline (``--keys``) without ``--log-key``."""
    if args.log_key is not None:
        return _read_log_keys(args.log_key)
    if args.keys is not None or args.trust_bundle is not None:
        if args.require_log:
            raise ValidationError("--require-log offline (--keys, --trust-bundle) needs "
                                  "--log-key")
        return None
    try:
        with Client(args.server, transport=transport) as client:
            keys = list(client.log_keys().keys)
    except NotFoundError:
        keys = []
    if not keys and args.require_log:
        raise ValidationError(f"--require-log: {args.server} publishes no transparency log "
                              "key; give one with --log-key")
    return keys or None


def _fetch(load: Callable[[argparse.Namespace, httpx.BaseTransport | None], _T],
           args: argparse.Namespace, transport: httpx.BaseTransport | None,
           path: str | None, what: str) -> tuple[_T | None, int]:
    """Run a key loader; on failure report why and give the exit code with no value."""
    try:
        return load(args, transport), EXIT_OK
    except OSError as exc:
        _io_error(exc, path)
        return None, EXIT_USAGE
    except SceauError as exc:
        _lib_error(exc, f"cannot get {what} from {path if path is not None else args.server}: ")
        return None, EXIT_USAGE


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
    if verdict.trusted_time is not None:
        _out(f"  logged at   {format_time(verdict.trusted_time)}: trusted time, signed by the "
             f"transparency log {_show(verdict.log_origin)} (entry {verdict.log_index} of "
             f"{verdict.log_size})")
    if verdict.signer_time is not None:
        attested = "" if verdict.trusted_time is not None else f" ({_NOT_ATTESTED})"
        _out(f"  signed at   {format_time(verdict.signer_time)} by the signer's "
             f"clock{attested}")
    integrity = {
        Integrity.MATCH: "match: the file is byte for byte what was sealed",
        Integrity.MISMATCH: "MISMATCH: the file is not what was sealed",
        Integrity.NOT_CHECKED: "not checked",
    }[verdict.integrity]
    _out(f"  integrity   {integrity}")
    if verdict.damaged_chunks and verdict.claim is not None:
        binding = verdict.claim.binding
        size = binding.chunk_size or 0
        ranges = ", ".join(
            f"#{i} (bytes {i * size}-{min((i + 1) * size, binding.hashed_length) - 1})"
            for i in verdict.damaged_chunks[:20])
        more = len(verdict.damaged_chunks) - 20
        _out(f"  damaged     {len(verdict.damaged_chunks)} of {len(binding.chunks)} chunks "
             f"of the content: {ranges}" + (f" and {more} more" if more > 0 else ""))
    if verdict.claim is not None:
        _out(f"  origin      {describe_origin(verdict.claim)} (as the signer states)")
    history = [c for c in verdict.status_codes if c.startswith("sceau.keyHistory.")]
    if history:
        hint = (" (it is stale: fetch it again with 'sceau keys fetch --bundle FILE')"
                if history[0] == "sceau.keyHistory.expired" else "")
        _out(f"  keys        the trust bundle's key history does not verify{hint}")
    _out(f"  status      {', '.join(verdict.status_codes)}")


def _find_seal(path: Path) -> tuple[bytes, dict[str, Any], MediaFile | None,
                                    EmbeddedSeal | None]:
    """FILE's seal: embedded first, then the sidecar.  Returns the envelope bytes, where
    they were found, and the parsed media file.  Raises NoSealFoundError (no seal),
    MalformedMediaError (no sidecar, and the file's container cannot be read),
    SceauError (a sidecar too large) or OSError."""
    media, embedded, broken = find_embedded(path)
    if embedded is not None:
        return embedded.envelope, embedded.location(), media, embedded
    try:
        seal = read_sidecar(path)
    except NoSealFoundError:
        if broken is not None:
            raise broken from None
        raise
    return seal, {"attachment": "sidecar", "path": str(sidecar_path(path))}, media, None


def _content_digest(path: Path, verdict: Verdict, embedded: EmbeddedSeal | None,
                    media: MediaFile | None) -> ContentDigest | None:
    """What the seal's hard binding covers, computed the way the binding says: the file
    minus the region where the seal was found (never the claim's own exclusions)."""
    if verdict.claim is None:
        return None  # verification stopped before the claim: nothing to compare
    return binding_digest(path, verdict.claim.binding.chunk_size, media, embedded)


def _cmd_verify(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    path = Path(args.file)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        _io_error(exc, path)
        return EXIT_USAGE
    try:
        seal, location, media, embedded = _find_seal(path)
    except (NoSealFoundError, MalformedMediaError) as exc:
        # A file whose container cannot be read has no seal we can find; say why.
        broken = exc if isinstance(exc, MalformedMediaError) else None
        if args.json:
            doc: dict[str, Any] = {"file": args.file, "ok": False, "seal_id": None,
                                   "status_codes": [], "summary": NO_SEAL_SUMMARY,
                                   "label": None, "seal_location": None}
            if broken is not None:
                doc["error"] = broken.to_dict()
            _dump_json(doc)
        else:
            _out(f"{args.file}: {NO_SEAL_SUMMARY}")
            if broken is not None:
                _out(f"  note        the file's container is malformed, so an embedded "
                     f"seal could not be looked for: {_show(broken.detail)}")
        return EXIT_FAILED
    except SceauError as exc:  # a sidecar too large to be a seal
        _lib_error(exc)
        return EXIT_FAILED
    except OSError as exc:
        _io_error(exc, sidecar_path(path))
        return EXIT_USAGE
    check, failed = _fetch(_verifier, args, transport, args.trust_bundle or args.keys, "keys")
    if check is None:
        return failed
    log_keys, failed = _fetch(_load_log_keys, args, transport, args.log_key, "log keys")
    if failed != EXIT_OK:
        return failed
    log = {"log_keys": log_keys, "require_log": args.require_log}
    now = datetime.now(UTC)
    verdict = check(seal, now=now, **log)
    try:
        digest = _content_digest(path, verdict, embedded, media)
    except OSError as exc:
        _io_error(exc, path)
        return EXIT_USAGE
    if digest is not None:
        verdict = check(seal, now=now, content=digest, **log)
    if args.json:
        _dump_json({"file": args.file, **report(verdict), "seal_location": location})
    else:
        _print_verdict(args.file, verdict)
        _print_location(location)
    return EXIT_OK if _verified(verdict) else EXIT_FAILED


def _print_location(location: Mapping[str, Any]) -> None:
    if location["attachment"] == "sidecar":
        _out(f"  found in    {_show(location['path'])}")
        return
    where = (f"embedded ({location['container']}, {location['length']} bytes at offset "
             f"{location['offset']})")
    if "damage" in location:
        where += f"; DAMAGED: {_show(location['damage'])}"
    _out(f"  found       {where}")
    for note in location.get("notes", ()):
        _out(f"  note        {_show(note)}")


# -- inspect ---------------------------------------------------------------------------


def _read_seal_for_inspect(name: str) -> tuple[str, bytes]:
    """The seal bytes for ``inspect``: FILE's embedded seal or sidecar, or FILE itself
    if it is a sidecar."""
    path = Path(name)
    if path.name.endswith(SIDECAR_SUFFIX) and path.is_file():
        with open(path, "rb") as f:
            return str(path), f.read(MAX_ENVELOPE_BYTES + 1)
    with open(path, "rb"):
        pass
    seal, location, _, _ = _find_seal(path)
    if location["attachment"] == "sidecar":
        return str(location["path"]), seal
    return f"{name} (embedded, {location['container']})", seal


def _cmd_inspect(args: argparse.Namespace) -> int:
    try:
        where, data = _read_seal_for_inspect(args.file)
    except (NoSealFoundError, MalformedMediaError) as exc:
        _out(f"{args.file}: {NO_SEAL_SUMMARY}")
        if isinstance(exc, MalformedMediaError):
            _out(f"  note: the file's container is malformed: {_show(exc.detail)}")
        return EXIT_FAILED
    except SceauError as exc:
        _lib_error(exc)
        return EXIT_FAILED
    except OSError as exc:
        _io_error(exc, args.file)
        return EXIT_USAGE
    try:
        if not data:
            raise ValidationError("the embedded seal is damaged")
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
    excl = "".join(f", bytes {s}-{s + n - 1} excluded" for s, n in b.exclusions)
    if b.chunk_size is None:
        _out(f"  hard binding  c2pa.hash.data {b.alg} {b.digest.hex()} ({b.size} bytes{excl})")
    else:
        _out(f"  hard binding  sceau.hash.chunked {b.alg} root {b.digest.hex()} ({b.size} "
             f"bytes{excl}; {len(b.chunks)} chunks of {b.chunk_size} bytes)")
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


# -- strip -----------------------------------------------------------------------------


def _cmd_strip(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for name in args.files:
        try:
            media = probe(name)
            if media is None:
                _err(f"{name}: no embedded seal (not a JPEG, PNG, WebP or ISO BMFF file)")
                status = max(status, EXIT_FAILED)
            elif not media.strip():
                _err(f"{name}: no embedded seal")
                status = max(status, EXIT_FAILED)
            else:
                _out(f"{name}\tstripped")
        except SceauError as exc:
            _lib_error(exc, f"{name}: ")
            status = EXIT_USAGE
        except OSError as exc:
            _io_error(exc, name)
            status = EXIT_USAGE
    return status


# -- keys ------------------------------------------------------------------------------


def _cmd_keys_fetch(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    if args.bundle is not None:
        return _cmd_keys_fetch_bundle(args, transport)
    if args.tenant or args.pin_root or args.pin_key or args.trust_on_first_use:
        _err("--tenant, --pin-root, --pin-key and --trust-on-first-use go with --bundle")
        return EXIT_USAGE
    try:
        with Client(args.server, transport=transport) as client:
            doc = client.jwks()
        ring = KeyRing.from_jwks(doc)
    except SceauError as exc:
        _lib_error(exc, f"cannot get keys from {args.server}: ")
        return EXIT_USAGE
    text = json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return _save_text(args.output, text,
                      f"saved {len(ring)} key(s) from {args.server} to {args.output}")


def _cmd_keys_fetch_bundle(args: argparse.Namespace,
                           transport: httpx.BaseTransport | None) -> int:
    path = Path(args.bundle)
    try:
        saved = _read_bundle(path) if path.exists() else None
    except OSError as exc:
        _io_error(exc, path)
        return EXIT_USAGE
    except SceauError as exc:
        _lib_error(exc, f"{path}: ")
        return EXIT_USAGE
    pinning = args.pin_root or args.pin_key or args.trust_on_first_use
    if saved is not None and pinning:
        _err(f"{path} is already pinned ({_pin_text(saved)}); remove it to pin again")
        return EXIT_USAGE
    if saved is None and not pinning:
        _err("first fetch: give --pin-root KEYID or --pin-key KEYID (or "
             "--trust-on-first-use)")
        return EXIT_USAGE
    tenant = args.tenant or (saved.tenant if saved is not None else None)
    if tenant is None:
        _err("first fetch: give --tenant")
        return EXIT_USAGE
    try:
        with Client(args.server, transport=transport) as client:
            document = client.key_history(tenant)
    except SceauError as exc:
        _lib_error(exc, f"cannot get the key history of {tenant} from {args.server}: ")
        return EXIT_USAGE
    try:
        bundle = update_trust_bundle(saved, document, now=datetime.now(UTC), tenant=tenant,
                                     pin_root=args.pin_root, pin_key=args.pin_key,
                                     trust_on_first_use=args.trust_on_first_use)
    except (KeyHistoryRollbackError, KeyHistoryForkError) as exc:
        _err(f"ROLLBACK: {exc.detail} ({exc.code}); {path} is unchanged")
        return EXIT_LOG_ROLLBACK
    except KeyHistoryError as exc:
        _err(f"the key history of {tenant} does not verify: {exc.detail} ({exc.code}); "
             f"{path} is unchanged")
        return EXIT_LOG_BAD_SIGNATURE
    try:
        atomic_write(path, bundle.to_bytes())
    except OSError as exc:
        _io_error(exc, path)
        return EXIT_USAGE
    before = "" if saved is None else f" (was version {saved.anchor.version})"
    if saved is None and args.trust_on_first_use:
        _out(f"pinned key {bundle.anchor.keyid} of {tenant} on first use: check this id "
             "out of band")
    _out(f"saved the key history of {tenant} at version {bundle.anchor.version}{before} "
         f"to {path} ({_pin_text(bundle)})")
    return EXIT_OK


def _pin_text(bundle: TrustBundle) -> str:
    a = bundle.anchor
    return " and ".join(f"{what} {kid}" for what, kid in (("root", a.root_keyid),
                                                         ("key", a.keyid)) if kid)


def _save_text(output: str, text: str, done: str) -> int:
    """Write ``text`` to stdout (``-``) or atomically to ``output``; the exit code."""
    if output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    try:
        atomic_write(output, text.encode("utf-8"))
    except OSError as exc:
        _io_error(exc, output)
        return EXIT_USAGE
    _out(done)
    return EXIT_OK


# -- log -------------------------------------------------------------------------------


def _cmd_log_key(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    try:
        with Client(args.server, transport=transport) as client:
            info = client.log_keys()
    except SceauError as exc:
        _lib_error(exc, f"cannot get log keys from {args.server}: ")
        return EXIT_USAGE
    text = f"# transparency log {info.origin} at {args.server}\n" + "".join(
        k.vkey() + "\n" for k in info.keys)
    return _save_text(args.output, text,
                      f"saved {len(info.keys)} log key(s) of {info.origin} to {args.output}")


def _default_state(server: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    name = "".join(c if c.isalnum() or c in "-." else "_" for c in server)
    return Path(base) / "sceau" / f"log-{name[:120]}.json"


_LOG_EXIT = {Outcome.OK: EXIT_OK, Outcome.FIRST: EXIT_OK,
             Outcome.BAD_SIGNATURE: EXIT_LOG_BAD_SIGNATURE,
             Outcome.ROLLBACK: EXIT_LOG_ROLLBACK, Outcome.FORK: EXIT_LOG_FORK}


def _cmd_log_verify(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    state_path = Path(args.state) if args.state else _default_state(args.server)
    try:
        saved = MonitorState.load(state_path)
        keys = (_read_log_keys(args.log_key) if args.log_key is not None
                else saved.keys() if saved is not None else None)
    except OSError as exc:
        _io_error(exc)
        return EXIT_USAGE
    except SceauError as exc:
        _lib_error(exc)
        return EXIT_USAGE
    try:
        with Client(args.server, transport=transport) as client:
            if keys is None:
                keys = list(client.log_keys().keys)
                _out(f"pinning {len(keys)} log key(s) from {args.server} (trust on first "
                     "use; give --log-key to pin known ones)")
            result = monitor_log(client, keys, saved.checkpoint if saved else None)
    except SceauError as exc:
        _lib_error(exc, f"{args.server}: ")
        return EXIT_USAGE
    code = _LOG_EXIT[result.outcome]
    if code != EXIT_OK:
        _err(f"{result.outcome.value.upper().replace('_', ' ')}: {result.message}")
        if result.current is not None:
            print("the log's latest checkpoint:\n" + result.current.text, file=sys.stderr)
        if result.previous is not None:
            print("the saved checkpoint:\n" + result.previous.text, file=sys.stderr)
        return code
    assert result.current is not None
    state = MonitorState(args.server, result.current.checkpoint.origin,
                         tuple(k.vkey() for k in keys), result.current.text)
    try:
        state_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        state.save(state_path)
    except OSError as exc:
        _io_error(exc, state_path)
        return EXIT_USAGE
    _out(f"OK: {result.message}")
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
        if args.command == "strip":
            return _cmd_strip(args)
        if args.command == "keys":
            return _cmd_keys_fetch(args, transport)
        if args.command == "log":
            if args.log_command == "key":
                return _cmd_log_key(args, transport)
            return _cmd_log_verify(args, transport)
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
