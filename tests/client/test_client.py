"""sceau.Client against an in-process fake service (httpx.MockTransport).

The fake implements the parts of docs/API.md the client uses, signing with a
LocalSigner, so the checks the client makes on answers run against real seals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

import sceau
from sceau import (
    AuthenticationError,
    Client,
    ContentDigest,
    KeyRing,
    LocalSigner,
    NoSealFoundError,
    NotFoundError,
    SceauError,
    SealResult,
    TransportError,
    ValidationError,
    build_claim,
    canonicalize,
    hash_bytes,
    parse_envelope,
    seal_claim,
    verify_seal,
)
from sceau.client import BATCH_LIMIT, MAX_BACKOFF, FoundSeal, SealRequest
from sceau.errors import RateLimitedError, ServiceUnavailableError

TOKEN = "sct_" + "A" * 43
BASE = "http://sceau.test"

Handler = Callable[[httpx.Request], httpx.Response]


def _error(status: int, code: str, detail: str = "") -> httpx.Response:
    return httpx.Response(status, json={"code": code, "detail": detail or code})


class FakeService:
    """Enough of the Sceau API for the client: seals, lookup, JWKS, verify, health."""

    def __init__(self, tenant: str = "newsroom") -> None:
        self.signer = LocalSigner.from_seed(bytes(range(32)))
        self.tenant = tenant
        self.requests: list[httpx.Request] = []
        self.stored: dict[str, dict[str, Any]] = {}
        #: Answers (or exceptions) to give before doing any real work, in order.
        self.script: list[httpx.Response | Exception] = []
        #: Hook to tamper with a seal answer before it is sent.
        self.tamper: Callable[[dict[str, Any]], None] | None = None

    def jwks(self) -> dict[str, Any]:
        return KeyRing([self.signer.record(self.tenant)]).to_jwks()

    def make_seal(self, item: dict[str, Any]) -> dict[str, Any]:
        claim = build_claim(
            sha256=bytes.fromhex(item["hash"]), size=item["size"],
            media_type=item["media_type"], tenant=self.tenant, keyid=self.signer.keyid,
            created=datetime.now(UTC),
            digital_source_type=item.get("digital_source_type", "digitalCapture"),
            title=item.get("title"), author=item.get("author", ()),
            publisher=item.get("publisher"))
        envelope = seal_claim(claim, self.signer)
        answer: dict[str, Any] = {"seal_id": sceau.seal_id(envelope),
                                  "seal": envelope.to_json()}
        self.stored[answer["seal_id"]] = {"item": item, "seal": envelope.to_json()}
        if self.tamper is not None:
            self.tamper(answer)
        return answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        path, method = request.url.path, request.method
        if method == "POST" and path.startswith("/v1/seals"):
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return _error(401, "unauthenticated", "missing or unknown bearer token")
            body = json.loads(request.content)
            if path == "/v1/seals":
                return httpx.Response(201, json=self.make_seal(body))
            if path == "/v1/seals/batch":
                return httpx.Response(201, json={
                    "seals": [self.make_seal(i) for i in body["items"]]})
        if method == "GET" and path == "/v1/seals":
            digest = request.url.params["sha256"]
            seals = [{"seal_id": sid, "tenant": self.tenant, "keyid": self.signer.keyid,
                      "media_type": rec["item"]["media_type"],
                      "created": "2026-11-26T10:00:00Z", "seal": rec["seal"]}
                     for sid, rec in self.stored.items() if rec["item"]["hash"] == digest]
            return httpx.Response(200, json={"seals": seals})
        if method == "GET" and path.startswith("/v1/seals/"):
            rec = self.stored.get(path.rsplit("/", 1)[1])
            if rec is None:
                return _error(404, "not_found", "no such seal")
            return httpx.Response(200, content=canonicalize(rec["seal"]),
                                  headers={"content-type": "application/vnd.sceau.seal+json"})
        if method == "GET" and path == "/.well-known/jwks.json":
            return httpx.Response(200, json=self.jwks())
        if method == "POST" and path == "/v1/verify":
            body = json.loads(request.content)
            if "seal" not in body:
                return _error(404, "no_seal_found", "no seal for this content")
            content = None
            if "hash" in body:
                content = ContentDigest("sha256", bytes.fromhex(body["hash"]), body["size"])
            verdict = verify_seal(canonicalize(body["seal"]), KeyRing.from_jwks(self.jwks()),
                                  now=datetime.now(UTC), content=content)
            return httpx.Response(200, json=verdict.to_json())
        if method == "GET" and path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        return _error(404, "not_found", f"no route {method} {path}")


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(service: FakeService, sleeps: list[float]) -> Iterator[Client]:
    with _client(service, sleeps) as c:
        yield c


def _client(handler: Handler, sleeps: list[float], **kw: Any) -> Client:
    c = Client(BASE, kw.pop("token", TOKEN), transport=httpx.MockTransport(handler), **kw)
    c._sleep = sleeps.append
    return c


DIGEST = hash_bytes(b"\xff\xd8\xff\xe0 a tiny jpeg")
OTHER = hash_bytes(b"something else")


# -- sealing ---------------------------------------------------------------------------


def test_seal_sends_digest_and_metadata_only(client: Client, service: FakeService) -> None:
    result = client.seal(DIGEST, media_type="image/jpeg", title="photo.jpg",
                         digital_source_type="trainedAlgorithmicMedia",
                         software_agent={"name": "Gen", "version": "2"},
                         author=["Jane Doe"], publisher="Example News")
    assert isinstance(result, SealResult)
    request = service.requests[-1]
    assert request.method == "POST"
    assert request.url.path == "/v1/seals"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"] == f"sceau-python/{sceau.__version__}"
    body = json.loads(request.content)
    assert body == {
        "alg": "sha256", "hash": DIGEST.digest.hex(), "size": DIGEST.size,
        "media_type": "image/jpeg", "title": "photo.jpg",
        "digital_source_type": "trainedAlgorithmicMedia",
        "software_agent": {"name": "Gen", "version": "2"},
        "author": ["Jane Doe"], "publisher": "Example News",
    }
    # The body went out as canonical bytes.
    assert request.content == canonicalize(body)


def test_seal_result_is_canonical_and_verifies(client: Client, service: FakeService) -> None:
    result = client.seal(DIGEST, media_type="image/jpeg")
    assert result.envelope_bytes == canonicalize(json.loads(result.envelope_bytes))
    assert result.seal_id == sceau.seal_id(parse_envelope(result.envelope_bytes))
    assert result.envelope.payload_type == sceau.CLAIM_PAYLOAD_TYPE
    verdict = verify_seal(result.envelope_bytes, KeyRing.from_jwks(service.jwks()),
                          now=datetime.now(UTC), content=DIGEST)
    assert verdict.ok, verdict.status_codes


def test_seal_omits_unset_optional_fields(client: Client, service: FakeService) -> None:
    client.seal(DIGEST, media_type="image/png", author=[])
    assert set(json.loads(service.requests[-1].content)) == {"alg", "hash", "size",
                                                             "media_type"}


def test_seal_id_mismatch_is_a_transport_error(client: Client, service: FakeService) -> None:
    def lie(answer: dict[str, Any]) -> None:
        answer["seal_id"] = "0" * 64

    service.tamper = lie
    with pytest.raises(TransportError, match="seal id"):
        client.seal(DIGEST, media_type="image/jpeg")


def test_seal_binding_other_content_is_rejected(client: Client, service: FakeService) -> None:
    original = service.make_seal

    def swap(item: dict[str, Any]) -> dict[str, Any]:
        return original({**item, "hash": OTHER.digest.hex(), "size": OTHER.size})

    service.make_seal = swap  # type: ignore[method-assign]
    with pytest.raises(TransportError, match="does not bind"):
        client.seal(DIGEST, media_type="image/jpeg")


@pytest.mark.parametrize("answer", [
    httpx.Response(201, content=b"not json"),
    httpx.Response(201, json=[]),
    httpx.Response(201, json={"seal_id": "ab"}),
    httpx.Response(201, json={"seal_id": "0" * 64, "seal": {"sceau": 2}}),
    httpx.Response(201, content=b'{"seal_id": 1, "seal_id": 2}'),
    httpx.Response(201, content=b'{"seal_id": 1.5, "seal": {}}'),
])
def test_unreadable_seal_answers(client: Client, service: FakeService,
                                 answer: httpx.Response) -> None:
    service.script.append(answer)
    with pytest.raises(TransportError):
        client.seal(DIGEST, media_type="image/jpeg")


def test_seal_batch_in_order(client: Client, service: FakeService) -> None:
    digests = [hash_bytes(bytes([i]) * (i + 1)) for i in range(5)]
    results = client.seal_batch([SealRequest(d, "image/jpeg", title=f"{i}.jpg")
                                 for i, d in enumerate(digests)])
    assert len(service.requests) == 1
    assert service.requests[0].url.path == "/v1/seals/batch"
    items = json.loads(service.requests[0].content)["items"]
    assert [i["hash"] for i in items] == [d.digest.hex() for d in digests]
    assert len({r.seal_id for r in results}) == 5
    ring = KeyRing.from_jwks(service.jwks())
    for digest, result in zip(digests, results, strict=True):
        verdict = verify_seal(result.envelope_bytes, ring, now=datetime.now(UTC),
                              content=digest)
        assert verdict.ok, verdict.status_codes


def test_seal_batch_detects_reordered_answers(client: Client, service: FakeService) -> None:
    original = service.__call__

    def reorder(request: httpx.Request) -> httpx.Response:
        response = original(request)
        doc = json.loads(response.content)
        doc["seals"].reverse()
        return httpx.Response(201, json=doc)

    with _client(reorder, []) as c, pytest.raises(TransportError, match="does not bind"):
        c.seal_batch([SealRequest(DIGEST, "image/jpeg"), SealRequest(OTHER, "image/png")])


def test_seal_batch_count_mismatch(client: Client, service: FakeService) -> None:
    service.script.append(httpx.Response(201, json={"seals": []}))
    with pytest.raises(TransportError, match="expected 1 seals"):
        client.seal_batch([SealRequest(DIGEST, "image/jpeg")])


def test_seal_batch_limits(client: Client, service: FakeService) -> None:
    assert client.seal_batch([]) == []
    with pytest.raises(ValidationError, match="at most"):
        client.seal_batch([SealRequest(DIGEST, "image/jpeg")] * (BATCH_LIMIT + 1))
    assert service.requests == []


# -- reading ---------------------------------------------------------------------------


def test_get_seal_returns_stored_bytes(client: Client) -> None:
    made = client.seal(DIGEST, media_type="image/jpeg")
    assert client.get_seal(made.seal_id) == made.envelope_bytes


def test_get_seal_checks_the_id(client: Client, service: FakeService) -> None:
    made = client.seal(DIGEST, media_type="image/jpeg")
    other = client.seal(OTHER, media_type="image/jpeg")
    service.script.append(httpx.Response(200, content=other.envelope_bytes))
    with pytest.raises(TransportError, match="asked for seal"):
        client.get_seal(made.seal_id)


def test_get_seal_unknown_and_invalid_ids(client: Client, service: FakeService) -> None:
    with pytest.raises(NotFoundError):
        client.get_seal("a" * 64)
    n = len(service.requests)
    for bad in ("../../etc/passwd", "A" * 64, "a" * 63):
        with pytest.raises(ValidationError):
            client.get_seal(bad)
    assert len(service.requests) == n


def test_find_seals(client: Client, service: FakeService) -> None:
    assert client.find_seals(DIGEST.digest.hex()) == []
    made = client.seal(DIGEST, media_type="image/jpeg")
    found = client.find_seals(DIGEST.digest.hex().upper())
    assert found == [FoundSeal(made.seal_id, "newsroom", service.signer.keyid, "image/jpeg",
                               "2026-11-26T10:00:00Z", made.envelope_bytes)]
    assert service.requests[-1].url.params["sha256"] == DIGEST.digest.hex()
    with pytest.raises(ValidationError):
        client.find_seals("xyz")


def test_jwks_and_keyring(client: Client, service: FakeService) -> None:
    assert client.jwks() == service.jwks()
    ring = client.keyring()
    assert list(ring) == [service.signer.keyid]
    assert ring.is_trusted("newsroom")
    ring = client.keyring(trusted_tenants=["someone-else"])
    assert not ring.is_trusted("newsroom")


def test_jwks_shape_is_checked(client: Client, service: FakeService) -> None:
    service.script.append(httpx.Response(200, json={"keys": "nope"}))
    with pytest.raises(TransportError):
        client.jwks()


def test_verify_remote(client: Client, service: FakeService) -> None:
    made = client.seal(DIGEST, media_type="image/jpeg")
    verdict = client.verify_remote(made.envelope_bytes, digest=DIGEST)
    assert verdict["ok"] is True
    assert verdict["integrity"] == "match"
    body = json.loads(service.requests[-1].content)
    assert body["hash"] == DIGEST.digest.hex()
    assert body["seal"] == json.loads(made.envelope_bytes)
    verdict = client.verify_remote(made.envelope_bytes, digest=OTHER)
    assert verdict["ok"] is False
    assert "assertion.dataHash.mismatch" in verdict["status_codes"]
    with pytest.raises(NoSealFoundError):
        client.verify_remote(digest=DIGEST)
    with pytest.raises(ValidationError):
        client.verify_remote()
    with pytest.raises(ValidationError):
        client.verify_remote(b"{not json")


def test_health(client: Client) -> None:
    assert client.health() == {"status": "ok"}


def test_no_token_no_authorization_header(service: FakeService) -> None:
    with _client(service, [], token=None) as c:
        c.health()
        with pytest.raises(AuthenticationError):
            c.seal(DIGEST, media_type="image/jpeg")
    assert "authorization" not in service.requests[0].headers


def test_context_manager_closes() -> None:
    c = Client(BASE, transport=httpx.MockTransport(FakeService()))
    with c:
        assert c.health() == {"status": "ok"}
    with pytest.raises(RuntimeError, match="closed"):
        c.health()


@pytest.mark.parametrize("url", ["", "ftp://x", "localhost:8000", "/relative"])
def test_base_url_must_be_http(url: str) -> None:
    with pytest.raises(ValidationError, match="http"):
        Client(url)


def test_negative_retries_rejected() -> None:
    with pytest.raises(ValueError, match="retries"):
        Client(BASE, retries=-1)


# -- error mapping ---------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code", "cls"), [
    (401, "unauthenticated", AuthenticationError),
    (403, "forbidden", sceau.PermissionDeniedError),
    (404, "no_seal_found", NoSealFoundError),
    (413, "payload_too_large", sceau.PayloadTooLargeError),
    (422, "validation_error", ValidationError),
    (422, "invalid_hash", sceau.errors.InvalidHashError),
    (400, "duplicate_key", sceau.errors.DuplicateKeyError),
    (503, "key_unavailable", sceau.errors.KeyCustodyError),
])
def test_error_codes_map_to_classes(status: int, code: str, cls: type[SceauError]) -> None:
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return _error(status, code, "the detail")

    with _client(handler, sleeps, retries=0) as c, pytest.raises(cls) as info:
        c.seal(DIGEST, media_type="image/jpeg")
    assert type(info.value) is cls
    assert info.value.detail == "the detail"


def test_unknown_code_gives_plain_sceau_error() -> None:
    teapot = _error(418, "teapot", "short and stout")
    with _client(lambda r: teapot, []) as c, pytest.raises(SceauError) as info:
        c.health()
    assert type(info.value) is SceauError
    assert info.value.detail == "short and stout"


@pytest.mark.parametrize("response", [
    httpx.Response(500, text="Internal Server Error"),
    httpx.Response(500, json={"code": 5, "detail": "x"}),
    httpx.Response(400, json={"detail": "no code"}),
    httpx.Response(301, headers={"location": "http://elsewhere/"}),
])
def test_non_sceau_error_bodies_are_transport_errors(response: httpx.Response) -> None:
    with _client(lambda r: response, [], retries=0) as c, pytest.raises(TransportError) as info:
        c.health()
    assert str(response.status_code) in info.value.detail


def test_connection_error_is_transport_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sleeps: list[float] = []
    with _client(refuse, sleeps, retries=2) as c, pytest.raises(TransportError) as info:
        c.jwks()
    assert "connection refused" in info.value.detail
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(sleeps) == 2


# -- retry policy ----------------------------------------------------------------------


class Script:
    """Answers a fixed sequence, then delegates to a FakeService."""

    def __init__(self, *steps: httpx.Response | type[Exception]) -> None:
        self.steps = list(steps)
        self.service = FakeService()
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.steps:
            step = self.steps.pop(0)
            if isinstance(step, httpx.Response):
                return step
            raise step("simulated", request=request)  # type: ignore[call-arg]
        return self.service(request)


def _seal(c: Client) -> SealResult:
    return c.seal(DIGEST, media_type="image/jpeg")


def _read(c: Client) -> Any:
    return c.jwks()


RETRIED_FOR_READS = [
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ReadTimeout,
    httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError,
    httpx.Response(502), httpx.Response(503), httpx.Response(504), httpx.Response(429),
]


@pytest.mark.parametrize("failure", RETRIED_FOR_READS, ids=repr)
def test_reads_retry_on_transient_failures(failure: Any) -> None:
    sleeps: list[float] = []
    script = Script(failure, failure)
    with _client(script, sleeps) as c:
        assert _read(c)["keys"]
    assert script.calls == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("failure", [
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
    _error(503, "unavailable"), _error(503, "key_unavailable"), _error(429, "rate_limited"),
], ids=repr)
def test_seal_retries_only_where_nothing_was_done(failure: Any) -> None:
    sleeps: list[float] = []
    script = Script(failure)
    with _client(script, sleeps) as c:
        _seal(c)
    assert script.calls == 2
    assert len(script.service.stored) == 1


@pytest.mark.parametrize("failure", [
    httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError,
    httpx.WriteTimeout,
    httpx.Response(502), httpx.Response(504), _error(500, "internal_error"),
], ids=repr)
def test_seal_not_retried_when_it_may_have_reached_the_service(failure: Any) -> None:
    sleeps: list[float] = []
    script = Script(failure)
    with _client(script, sleeps) as c, pytest.raises(SceauError):
        _seal(c)
    assert script.calls == 1
    assert sleeps == []


def test_seal_batch_follows_the_same_policy() -> None:
    script = Script(httpx.ReadTimeout)
    with _client(script, []) as c, pytest.raises(TransportError):
        c.seal_batch([SealRequest(DIGEST, "image/jpeg")])
    assert script.calls == 1
    script = Script(httpx.ConnectError, _error(503, "unavailable"))
    with _client(script, []) as c:
        assert len(c.seal_batch([SealRequest(DIGEST, "image/jpeg")])) == 1
    assert script.calls == 3


@pytest.mark.parametrize("failure", [
    httpx.Response(400), httpx.Response(404), httpx.Response(500),
    httpx.UnsupportedProtocol, httpx.LocalProtocolError,
], ids=repr)
def test_permanent_failures_not_retried(failure: Any) -> None:
    sleeps: list[float] = []
    script = Script(failure)
    with _client(script, sleeps) as c, pytest.raises(SceauError):
        _read(c)
    assert script.calls == 1


def test_retries_exhausted_raise_the_last_error() -> None:
    sleeps: list[float] = []
    script = Script(*[_error(503, "unavailable", "store down")] * 10)
    with _client(script, sleeps, retries=3) as c, pytest.raises(ServiceUnavailableError):
        _read(c)
    assert script.calls == 4
    assert len(sleeps) == 3


def test_retries_zero_means_one_attempt() -> None:
    script = Script(httpx.ConnectError)
    with _client(script, [], retries=0) as c, pytest.raises(TransportError):
        _read(c)
    assert script.calls == 1


def test_backoff_is_exponential_with_full_jitter() -> None:
    sleeps: list[float] = []
    script = Script(*[httpx.ConnectError] * 8)
    with _client(script, sleeps, retries=7, backoff=0.5) as c, pytest.raises(TransportError):
        _read(c)
    assert len(sleeps) == 7
    for attempt, delay in enumerate(sleeps):
        assert 0.0 <= delay <= min(MAX_BACKOFF, 0.5 * 2 ** attempt)


def test_backoff_ceiling_grows() -> None:
    c = Client(BASE, backoff=1.0)
    samples = [[c._delay(attempt) for _ in range(200)] for attempt in range(4)]
    assert max(samples[0]) <= 1.0
    assert max(samples[3]) > 1.0  # a 2**3 ceiling: some draw exceeds the first one's
    assert len(set(samples[3])) > 100  # jittered, not constant
    c.close()


def test_retry_after_seconds_is_honoured() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(429, headers={"retry-after": "7"},
                                   json={"code": "rate_limited", "detail": "slow down"}))
    with _client(script, sleeps) as c:
        _read(c)
    assert sleeps == [7.0]


def test_retry_after_http_date_is_honoured() -> None:
    sleeps: list[float] = []
    when = datetime.now(UTC) + timedelta(seconds=20)
    script = Script(httpx.Response(503, headers={"retry-after": format_datetime(when, True)}))
    with _client(script, sleeps) as c:
        _read(c)
    assert len(sleeps) == 1
    assert 15 <= sleeps[0] <= 20


def test_retry_after_garbage_falls_back_to_backoff() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(503, headers={"retry-after": "soon-ish"}))
    with _client(script, sleeps, backoff=0.25) as c:
        _read(c)
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 0.25


def test_retry_after_beyond_cap_is_not_waited_for() -> None:
    sleeps: list[float] = []
    script = Script(httpx.Response(429, headers={"retry-after": "3600"},
                                   json={"code": "rate_limited", "detail": "come back later"}))
    with (_client(script, sleeps, max_retry_after=30.0) as c,
          pytest.raises(RateLimitedError, match="come back later")):
        _read(c)
    assert sleeps == []
    assert script.calls == 1


def test_real_connection_refused_is_a_transport_error() -> None:
    # Port 9 (discard) on localhost: nothing listens there in the test environment.
    with (Client("http://127.0.0.1:9", retries=0, timeout=2.0) as c,
          pytest.raises(TransportError, match="cannot reach")):
        c.health()


def test_content_digest_roundtrip_in_request() -> None:
    body = SealRequest(ContentDigest("sha256", b"\x00" * 32, 0), "image/gif",
                       author="Solo Author", ingredients=[{"relationship": "parentOf",
                                                          "dc:title": "raw.dng"}]).to_json()
    assert body["hash"] == "00" * 32
    assert body["size"] == 0
    assert body["author"] == ["Solo Author"]
    assert body["ingredients"] == [{"relationship": "parentOf", "dc:title": "raw.dng"}]
