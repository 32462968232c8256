"""The transparency log on the SDK side: ``Client`` log methods, ``sceau verify`` with log
keys, ``sceau log key`` and the ``sceau log verify`` monitor (fork, rollback, bad
signature), against an in-process fake log (``httpx.MockTransport``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sceau import Client, KeyRing, LocalSigner, build_claim, hash_file, seal_claim
from sceau.checkpoint import Checkpoint, LogSigner, sign_checkpoint
from sceau.cli import main
from sceau.encoding import b64url_encode
from sceau.errors import NotFoundError, TransportError, ValidationError
from sceau.logproof import LogProof, attach_log, seal_leaf_hash
from sceau.merkle import MemorySource, consistency_proof, inclusion_proof, tree_root
from sceau.monitor import MonitorState
from sceau.readable import summarize
from sceau.sidecar import write_sidecar
from sceau.verify import Status, seal_id, verify_seal

TENANT = "newsroom"
SIGNER = LocalSigner.from_seed(hashlib.sha256(b"log cli tenant key").digest())
LOG_KEY = LocalSigner.from_seed(hashlib.sha256(b"log cli log key").digest())
ROGUE_KEY = LocalSigner.from_seed(hashlib.sha256(b"log cli rogue key").digest())
ORIGIN = "log.test/cli"
SERVER = "http://sceau.test"
T0 = int(datetime(2026, 3, 14, 9, 0, tzinfo=UTC).timestamp())


def log_signer(key: LocalSigner = LOG_KEY) -> LogSigner:
    return LogSigner(ORIGIN, key.public_key, key.sign)


@dataclass
class FakeLog:
    """A log in memory served over the API's ``/v1/log`` routes (plus the JWKS).
    ``served`` replaces what ``/v1/log/checkpoint`` answers (to stage rollbacks)."""

    ids: list[str] = field(default_factory=list)
    signer: LogSigner = field(default_factory=log_signer)
    time: int = T0
    served: str | None = None
    keys_answer: Any = None
    requests: list[httpx.Request] = field(default_factory=list)

    @property
    def leaves(self) -> list[bytes]:
        return [seal_leaf_hash(i) for i in self.ids]

    def checkpoint(self, size: int | None = None) -> str:
        size = len(self.ids) if size is None else size
        cp = Checkpoint(ORIGIN, size, tree_root(self.leaves[:size]))
        return sign_checkpoint(cp, self.signer, self.time)

    def add(self, *sids: str) -> None:
        self.ids.extend(sids)
        self.time += 10

    def log_envelope(self, envelope: bytes, sid: str) -> bytes:
        self.add(sid)
        index, size = len(self.ids) - 1, len(self.ids)
        proof = inclusion_proof(index, size, MemorySource.from_leaves(self.leaves))
        return attach_log(envelope, LogProof(index, tuple(proof), self.checkpoint()))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, q = request.url.path, request.url.params
        if path == "/.well-known/jwks.json":
            return httpx.Response(200, json=KeyRing([SIGNER.record(TENANT)]).to_jwks())
        if path == "/v1/log/key":
            doc = self.keys_answer or {"origin": ORIGIN, "keys": [
                {"vkey": self.signer.key.vkey(), "status": "active"}]}
            return httpx.Response(200, json=doc)
        if path == "/v1/log/checkpoint":
            return httpx.Response(200, text=self.served or self.checkpoint())
        if path == "/v1/log/consistency":
            first, second = int(q["first"]), int(q.get("second", len(self.ids)))
            proof = consistency_proof(first, second, MemorySource.from_leaves(self.leaves))
            return httpx.Response(200, json={"first": first, "second": second,
                                             "proof": [b64url_encode(h) for h in proof]})
        if path == "/v1/log/proof":
            index = (int(q["index"]) if "index" in q
                     else self.ids.index(q["seal_id"]))
            size = len(self.ids)
            proof = inclusion_proof(index, size, MemorySource.from_leaves(self.leaves))
            return httpx.Response(200, json={
                "index": index, "tree_size": size, "seal_id": self.ids[index],
                "leaf_hash": self.leaves[index].hex(),
                "proof": [b64url_encode(h) for h in proof], "checkpoint": self.checkpoint()})
        if path == "/v1/log/entries":
            start, end = int(q["start"]), int(q["end"])
            return httpx.Response(200, json={"entries": [
                {"index": i, "seal_id": self.ids[i], "leaf_hash": self.leaves[i].hex()}
                for i in range(start, end)]})
        return httpx.Response(404, json={"code": "not_found", "detail": path})


def fillers(n: int, tag: str = "") -> list[str]:
    return [hashlib.sha256(f"filler {tag}{i}".encode()).hexdigest() for i in range(n)]


@pytest.fixture
def log() -> FakeLog:
    fake = FakeLog()
    fake.add(*fillers(5))
    return fake


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], log: FakeLog,
        monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    monkeypatch.delenv("SCEAU_SERVER", raising=False)
    monkeypatch.setattr("sceau.client.time.sleep", lambda seconds: None)

    def run(*argv: str, transport: httpx.BaseTransport | None = None) -> Run:
        code = main([*argv], transport=transport or httpx.MockTransport(log))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def sealed_file(tmp_path: Path, log: FakeLog | None, *, name: str = "photo.jpg",
                created: datetime | None = None) -> Path:
    path = tmp_path / name
    path.write_bytes(b"\xff\xd8\xff\xe0 jpeg bytes " + name.encode())
    digest = hash_file(path)
    claim = build_claim(sha256=digest.digest, size=digest.size, media_type="image/jpeg",
                        tenant=TENANT, keyid=SIGNER.keyid,
                        created=created or datetime.now(UTC) - timedelta(minutes=1))
    envelope = seal_claim(claim, SIGNER)
    data = envelope.to_bytes()
    if log is not None:
        data = log.log_envelope(data, seal_id(envelope))
    write_sidecar(path, data)
    return path


# -- verify with the log --------------------------------------------------------------------


def test_verify_uses_the_services_log_key(cli: Callable[..., Run], log: FakeLog,
                                          tmp_path: Path) -> None:
    log.time = int(datetime.now(UTC).timestamp())
    path = sealed_file(tmp_path, log)
    run = cli("verify", str(path), "--server", SERVER, "--require-log", "--json")
    assert run.code == 0, run.out + run.err
    doc = json.loads(run.out)
    assert Status.LOG_INCLUDED in doc["status_codes"]
    assert Status.TIME_SIGNER_ASSERTED not in doc["status_codes"]
    assert doc["time"]["attested"] is True
    assert doc["log"] == {"origin": ORIGIN, "index": 5, "tree_size": 6}
    run = cli("verify", str(path), "--server", SERVER)
    assert run.code == 0 and "logged at" in run.out and ORIGIN in run.out
    assert "not independently attested" not in run.out


def test_verify_require_log_rejects_a_seal_made_outside(cli: Callable[..., Run],
                                                        tmp_path: Path) -> None:
    path = sealed_file(tmp_path, None)
    run = cli("verify", str(path), "--server", SERVER, "--json")
    assert run.code == 0  # not required: the signer's time, as before
    assert "sceau.time.signerAsserted" in json.loads(run.out)["status_codes"]
    run = cli("verify", str(path), "--server", SERVER, "--require-log", "--json")
    assert run.code == 1
    doc = json.loads(run.out)
    assert Status.LOG_MISSING in doc["status_codes"]
    assert "not in the transparency log" in doc["summary"]


def test_verify_offline_with_a_log_key_file(cli: Callable[..., Run], log: FakeLog,
                                            tmp_path: Path) -> None:
    log.time = int(datetime.now(UTC).timestamp())
    path = sealed_file(tmp_path, log)
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(KeyRing([SIGNER.record(TENANT)]).to_jwks()))
    vkeys = tmp_path / "log.vkey"
    assert cli("log", "key", "--server", SERVER, "-o", str(vkeys)).code == 0
    assert log.signer.key.vkey() in vkeys.read_text()

    def offline(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no network offline: {request.url}")

    transport = httpx.MockTransport(offline)
    run = cli("verify", str(path), "--keys", str(keys), "--log-key", str(vkeys),
              "--require-log", transport=transport)
    assert run.code == 0, run.out + run.err
    # Offline without a log key: the log member is ignored; requiring it is a usage error.
    assert cli("verify", str(path), "--keys", str(keys), transport=transport).code == 0
    run = cli("verify", str(path), "--keys", str(keys), "--require-log", transport=transport)
    assert run.code == 2 and "--log-key" in run.err
    # A log key file with another log's key: the seal's log record is by an unknown key.
    other = tmp_path / "other.vkey"
    other.write_text("# comment\n\n" + log_signer(ROGUE_KEY).key.vkey() + "\n")
    run = cli("verify", str(path), "--keys", str(keys), "--log-key", str(other), "--json",
              transport=transport)
    assert run.code == 1 and Status.LOG_UNKNOWN_KEY in json.loads(run.out)["status_codes"]


@pytest.mark.parametrize("content", ["", "# only a comment\n", "not a key\n", "\xff"])
def test_bad_log_key_files(cli: Callable[..., Run], log: FakeLog, tmp_path: Path,
                           content: str) -> None:
    path = sealed_file(tmp_path, log)
    bad = tmp_path / "bad.vkey"
    bad.write_bytes(content.encode("latin-1"))
    run = cli("verify", str(path), "--server", SERVER, "--log-key", str(bad))
    assert run.code == 2 and "log key" in run.err
    missing = cli("verify", str(path), "--server", SERVER, "--log-key", str(tmp_path / "no"))
    assert missing.code == 2


def test_verify_require_log_against_a_service_without_a_log(cli: Callable[..., Run],
                                                            tmp_path: Path) -> None:
    path = sealed_file(tmp_path, None)

    def no_log(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json=KeyRing([SIGNER.record(TENANT)]).to_jwks())
        return httpx.Response(404, json={"code": "not_found", "detail": "no log"})

    transport = httpx.MockTransport(no_log)
    assert cli("verify", str(path), "--server", SERVER, transport=transport).code == 0
    run = cli("verify", str(path), "--server", SERVER, "--require-log", transport=transport)
    assert run.code == 2 and "publishes no transparency log key" in run.err


# -- the monitor ---------------------------------------------------------------------------


def test_monitor_first_run_then_consistent_growth(cli: Callable[..., Run], log: FakeLog,
                                                  tmp_path: Path) -> None:
    state = tmp_path / "state" / "log.json"
    run = cli("log", "verify", "--server", SERVER, "--state", str(state))
    assert run.code == 0, run.err
    assert "pinning 1 log key" in run.out and "size 5" in run.out
    saved = MonitorState.load(state)
    assert saved is not None and saved.origin == ORIGIN and saved.server == SERVER
    assert saved.vkeys == (log.signer.key.vkey(),)
    assert state.stat().st_mode & 0o777 == 0o600
    for grow in (0, 1, 7, 64):
        log.add(*fillers(grow, f"g{grow}-"))
        run = cli("log", "verify", "--server", SERVER, "--state", str(state))
        assert run.code == 0, run.err
        assert "consistent" in run.out or "same tree" in run.out
    assert MonitorState.load(state).checkpoint == log.checkpoint()  # type: ignore[union-attr]


def test_monitor_detects_a_fork(cli: Callable[..., Run], log: FakeLog,
                                tmp_path: Path) -> None:
    state = tmp_path / "log.json"
    assert cli("log", "verify", "--server", SERVER, "--state", str(state)).code == 0
    saved = state.read_bytes()
    # The log rewrites entry 2 and grows: its new tree does not extend the saved one.
    log.ids[2] = hashlib.sha256(b"rewritten").hexdigest()
    log.add(*fillers(3, "after-"))
    run = cli("log", "verify", "--server", SERVER, "--state", str(state))
    assert run.code == 5 and "FORK" in run.err and "the saved checkpoint" in run.err
    assert state.read_bytes() == saved  # the evidence is kept
    # Same size, another root: a fork too.
    log.ids = log.ids[:5]
    run = cli("log", "verify", "--server", SERVER, "--state", str(state))
    assert run.code == 5 and "two different trees of size 5" in run.err


def test_monitor_detects_rollbacks(cli: Callable[..., Run], log: FakeLog,
                                   tmp_path: Path) -> None:
    state = tmp_path / "log.json"
    old = log.checkpoint()
    log.add(*fillers(4, "more-"))
    assert cli("log", "verify", "--server", SERVER, "--state", str(state)).code == 0
    log.served = old  # a stale or malicious answer: the smaller tree
    run = cli("log", "verify", "--server", SERVER, "--state", str(state))
    assert run.code == 4 and "ROLLBACK" in run.err and "shrank" in run.err
    log.served = None
    log.time -= 3600  # same tree, signed with an earlier time
    run = cli("log", "verify", "--server", SERVER, "--state", str(state))
    assert run.code == 4 and "time went back" in run.err


def test_monitor_detects_a_bad_signature(cli: Callable[..., Run], log: FakeLog,
                                         tmp_path: Path) -> None:
    state = tmp_path / "log.json"
    assert cli("log", "verify", "--server", SERVER, "--state", str(state)).code == 0
    # The server now signs with another key (stolen log, or a rotation the monitor was
    # not told about): the pinned key does not verify it.
    log.signer = log_signer(ROGUE_KEY)
    log.add("ab" * 32)
    run = cli("log", "verify", "--server", SERVER, "--state", str(state))
    assert run.code == 3 and "BAD SIGNATURE" in run.err
    # A tampered checkpoint from the right key fails too.
    log.signer = log_signer()
    log.served = log.checkpoint().replace(f"\n{len(log.ids)}\n", f"\n{len(log.ids) + 1}\n")
    run = cli("log", "verify", "--server", SERVER, "--state", str(state))
    assert run.code == 3
    # Giving the new key explicitly accepts it (and pins it).
    log.served = None
    keyfile = tmp_path / "k.vkey"
    keyfile.write_text(log.signer.key.vkey() + "\n")
    assert cli("log", "verify", "--server", SERVER, "--state", str(state),
               "--log-key", str(keyfile)).code == 0


def test_monitor_state_errors(cli: Callable[..., Run], tmp_path: Path) -> None:
    state = tmp_path / "log.json"
    state.write_text('{"format": "something else"}')
    run = cli("log", "verify", "--server", SERVER, "--state", str(state))
    assert run.code == 2 and "state file" in run.err
    state.write_text("{not json")
    assert cli("log", "verify", "--server", SERVER, "--state", str(state)).code == 2

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    run = cli("log", "verify", "--server", SERVER, "--state", str(tmp_path / "new.json"),
              transport=httpx.MockTransport(down))
    assert run.code == 2


def test_monitor_default_state_path(cli: Callable[..., Run], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert cli("log", "verify", "--server", SERVER).code == 0
    (saved,) = (tmp_path / "xdg" / "sceau").iterdir()
    assert saved.name.startswith("log-http") and saved.suffix == ".json"


# -- the client's log methods --------------------------------------------------------------


@pytest.fixture
def client(log: FakeLog) -> Iterator[Client]:
    with Client(SERVER, transport=httpx.MockTransport(log), retries=0) as c:
        yield c


def test_client_log_methods(client: Client, log: FakeLog) -> None:
    info = client.log_keys()
    assert info.origin == ORIGIN and info.keys == (log.signer.key,)
    assert client.log_checkpoint() == log.checkpoint()
    proof = client.log_inclusion_proof(seal_id=log.ids[3])
    assert (proof.index, proof.tree_size) == (3, 5)
    member = proof.log_member()
    assert isinstance(member, LogProof) and member.checkpoint == log.checkpoint()
    assert client.log_inclusion_proof(index=3).proof == proof.proof
    consistency = client.log_consistency_proof(2, 5)
    assert (consistency.first, consistency.second) == (2, 5)
    entries = client.log_entries(1, 4)
    assert [e.seal_id for e in entries] == log.ids[1:4]
    with pytest.raises(ValidationError):
        client.log_inclusion_proof()
    with pytest.raises(ValidationError):
        client.log_inclusion_proof(index=1, seal_id=log.ids[1])


@pytest.mark.parametrize("answer", [
    [], {"origin": ORIGIN}, {"origin": 1, "keys": []}, {"origin": ORIGIN, "keys": [{}]},
    {"origin": ORIGIN, "keys": [{"vkey": "nope"}]},
    {"origin": "other.test/log", "keys": [{"vkey": log_signer().key.vkey()}]},
])
def test_client_rejects_bad_log_key_answers(client: Client, log: FakeLog, answer: Any) -> None:
    log.keys_answer = answer or ["not an object"]
    with pytest.raises(TransportError):
        client.log_keys()


def test_client_checks_log_answers() -> None:
    def answer(doc: Any) -> Client:
        return Client(SERVER, retries=0, transport=httpx.MockTransport(
            lambda r: httpx.Response(200, json=doc)))

    sid = "ab" * 32
    good = {"index": 0, "tree_size": 1, "seal_id": sid, "leaf_hash": seal_leaf_hash(sid).hex(),
            "proof": []}
    assert answer(good).log_inclusion_proof(index=0).proof == ()
    for bad in ({**good, "index": -1}, {**good, "index": True}, {**good, "proof": "x"},
                {**good, "proof": ["AA"]}, {**good, "seal_id": "AB" * 32},
                {**good, "checkpoint": 5}, [1]):
        with pytest.raises(TransportError):
            answer(bad).log_inclusion_proof(index=0)
    with pytest.raises(TransportError, match="leaf hash"):
        answer({**good, "leaf_hash": "00" * 32}).log_inclusion_proof(index=0)
    with pytest.raises(TransportError, match="another index"):
        answer(good).log_inclusion_proof(index=1)
    with pytest.raises(TransportError):
        answer({"first": 1, "second": 2, "proof": []}).log_consistency_proof(3)
    with pytest.raises(TransportError):
        answer({"entries": [{"index": 5, "seal_id": sid, "leaf_hash": "00" * 32}]}
               ).log_entries(0, 1)
    with pytest.raises(TransportError, match="leaf hash"):
        answer({"entries": [{"index": 0, "seal_id": sid, "leaf_hash": "00" * 32}]}
               ).log_entries(0, 1)
    with pytest.raises(TransportError):
        Client(SERVER, retries=0, transport=httpx.MockTransport(
            lambda r: httpx.Response(200, content=b"\xff"))).log_checkpoint()
    with pytest.raises(NotFoundError):
        Client(SERVER, retries=0, transport=httpx.MockTransport(
            lambda r: httpx.Response(404, json={"code": "not_found", "detail": "x"}))
            ).log_checkpoint()


# -- verification API and wording ------------------------------------------------------


def test_require_log_needs_log_keys() -> None:
    with pytest.raises(ValueError, match="log_keys"):
        verify_seal(b"{}", KeyRing(), now=datetime.now(UTC), require_log=True)


def test_every_log_failure_reads_plainly() -> None:
    from .test_vectors import FILES, _load, _verify

    seen = set()
    for path in FILES:
        if "log" not in path.name or path.name.startswith("valid-"):
            continue
        doc = _load(path)
        verdict = _verify(doc, doc["seal"])
        sentence = summarize(verdict)
        seen.add(verdict.failures[0])
        assert sentence.startswith("not verified: ") and "verification failed" not in sentence
    assert {Status.LOG_MISSING, Status.LOG_MALFORMED, Status.LOG_CHECKPOINT_INVALID,
            Status.LOG_UNKNOWN_KEY, Status.LOG_PROOF_INVALID} <= seen

