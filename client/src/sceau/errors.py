"""One exception tree for the SDK, the key registry and the service.

Every error has a stable machine-readable ``code`` and the HTTP status the service
answers it with.  The service serialises errors as ``{"code", "detail"}``; the SDK maps the
code back to the same class with :func:`error_from_code`, so a failure reads the same
locally and remotely.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "DependencyMissingError",
    "DuplicateKeyError",
    "FloatNotAllowedError",
    "IntegerOutOfRangeError",
    "InvalidHashError",
    "InvalidKeyTransitionError",
    "KeyCustodyError",
    "KeyHistoryChainBrokenError",
    "KeyHistoryError",
    "KeyHistoryExpiredError",
    "KeyHistoryForkError",
    "KeyHistoryRollbackError",
    "KeyHistorySignatureInvalidError",
    "KeyHistorySignatureMissingError",
    "KeyHistoryTenantMismatchError",
    "KeyHistoryTransitionError",
    "KeyHistoryUntrustedAnchorError",
    "MalformedEnvelopeError",
    "MalformedJSONError",
    "MalformedMediaError",
    "MethodNotAllowedError",
    "NestingTooDeepError",
    "NoSealFoundError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "SceauError",
    "ServiceUnavailableError",
    "TransportError",
    "UnsupportedAlgorithmError",
    "UnsupportedMediaError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "VerificationError",
    "error_from_code",
]


class SceauError(Exception):
    """Root of every error raised by Sceau."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code

    def to_dict(self) -> dict[str, str]:
        """The wire form the service answers with."""
        return {"code": self.code, "detail": self.detail}


# -- bad input (4xx) -------------------------------------------------------------------


class ValidationError(SceauError):
    """A request or document does not have the required shape."""

    code = "validation_error"
    http_status = 422


class MalformedJSONError(ValidationError):
    """The bytes are not a single well-formed UTF-8 JSON text."""

    code = "malformed_json"
    http_status = 400


class DuplicateKeyError(MalformedJSONError):
    """A JSON object repeats a member name (RFC 8259 §4 leaves this open; we reject)."""

    code = "duplicate_key"


class FloatNotAllowedError(MalformedJSONError):
    """A JSON number with a fraction or exponent; the Sceau profile has integers only."""

    code = "float_not_allowed"


class IntegerOutOfRangeError(MalformedJSONError):
    """An integer outside ±(2^53 - 1), the range every JSON implementation keeps exact."""

    code = "integer_out_of_range"


class NestingTooDeepError(MalformedJSONError):
    """Arrays and objects nested deeper than the profile allows."""

    code = "nesting_too_deep"


class PayloadTooLargeError(SceauError):
    """A body, document or field exceeds its size limit."""

    code = "payload_too_large"
    http_status = 413


class InvalidHashError(ValidationError):
    """A content hash has the wrong length or alphabet."""

    code = "invalid_hash"


class UnsupportedAlgorithmError(ValidationError):
    """A hash or signature algorithm that this version does not support."""

    code = "unsupported_algorithm"


class UnsupportedMediaTypeError(SceauError):
    """The request body's content type is not one the endpoint takes."""

    code = "unsupported_media_type"
    http_status = 415


class MalformedEnvelopeError(ValidationError):
    """A seal envelope that cannot be read at all (before any signature check)."""

    code = "malformed_envelope"


class MalformedMediaError(ValidationError):
    """A media file whose container (JPEG segments, PNG chunks, RIFF chunks, ISO BMFF
    boxes) breaks its format's rules or a parser limit (SPEC.md §6.3)."""

    code = "malformed_media"


class UnsupportedMediaError(ValidationError):
    """A well-formed media file that cannot carry an embedded seal (or have one removed)
    without changing its meaning; seal it with a sidecar instead."""

    code = "unsupported_media"


# -- auth ------------------------------------------------------------------------------


class AuthenticationError(SceauError):
    """No bearer token, or one that is unknown or revoked."""

    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(SceauError):
    """The token is valid but lacks the scope or tenant for this action."""

    code = "forbidden"
    http_status = 403


# -- resources -------------------------------------------------------------------------


class NotFoundError(SceauError):
    """The resource does not exist (or is not visible to the caller)."""

    code = "not_found"
    http_status = 404


class MethodNotAllowedError(SceauError):
    """The route exists but not for this HTTP method."""

    code = "method_not_allowed"
    http_status = 405


class NoSealFoundError(NotFoundError):
    """No seal is attached to, or stored for, the given content."""

    code = "no_seal_found"


class ConflictError(SceauError):
    """The request conflicts with the current state."""

    code = "conflict"
    http_status = 409


class InvalidKeyTransitionError(ConflictError):
    """A key lifecycle change the state machine forbids (SPEC.md §5.3): e.g. un-revoking,
    activating a retired key, or moving a compromise time later."""

    code = "invalid_key_transition"


class RateLimitedError(SceauError):
    """Too many requests; retry after the delay the service gives."""

    code = "rate_limited"
    http_status = 429


class RequestTimeoutError(SceauError):
    """The request (headers or body) did not arrive in time (RFC 9110 §15.5.9)."""

    code = "request_timeout"
    http_status = 408


# -- verification ----------------------------------------------------------------------


class VerificationError(SceauError):
    """A seal did not verify.  ``status_codes`` says why (SPEC.md §7)."""

    code = "verification_failed"
    http_status = 422

    def __init__(self, detail: str = "", status_codes: tuple[str, ...] = ()) -> None:
        super().__init__(detail)
        self.status_codes = status_codes


class KeyHistoryError(SceauError):
    """A tenant's signed key history does not verify (SPEC.md §6.2).  Each subclass has its
    own ``sceau.keyHistory.*`` code, which is also the verdict's status code when a seal is
    verified against the history."""

    code = "sceau.keyHistory.malformed"
    http_status = 422


class KeyHistoryTenantMismatchError(KeyHistoryError):
    """The history, a statement or the head names another tenant than the anchor."""

    code = "sceau.keyHistory.tenantMismatch"


class KeyHistoryUntrustedAnchorError(KeyHistoryError):
    """The pinned root or key never vouches for the history."""

    code = "sceau.keyHistory.untrustedAnchor"


class KeyHistorySignatureMissingError(KeyHistoryError):
    """A statement or the head lacks a signature the signing rules require."""

    code = "sceau.keyHistory.signatureMissing"


class KeyHistorySignatureInvalidError(KeyHistoryError):
    """A signature does not verify, or is by a key not allowed to sign there."""

    code = "sceau.keyHistory.signatureInvalid"


class KeyHistoryChainBrokenError(KeyHistoryError):
    """Versions are not 1, 2, 3, ..., a ``previous`` digest is wrong, or the head does not
    name the last statement."""

    code = "sceau.keyHistory.chainBroken"


class KeyHistoryTransitionError(KeyHistoryError):
    """A statement changes the key set in a way the rules forbid (a key disappears, a
    revoked key comes back, a compromise time moves later, no single active key, ...)."""

    code = "sceau.keyHistory.transitionInvalid"


class KeyHistoryRollbackError(KeyHistoryError):
    """The history is older than one already seen (lower version or earlier head)."""

    code = "sceau.keyHistory.rollback"


class KeyHistoryForkError(KeyHistoryError):
    """At a version already seen, the history holds a different statement."""

    code = "sceau.keyHistory.fork"


class KeyHistoryExpiredError(KeyHistoryError):
    """The head's ``expires`` has passed: the history may be frozen (an attacker replaying
    an old one)."""

    code = "sceau.keyHistory.expired"


# -- keys and infrastructure -----------------------------------------------------------


class KeyCustodyError(SceauError):
    """A private key cannot be loaded or used (wrong passphrase, unsafe file mode, ...)."""

    code = "key_unavailable"
    http_status = 503


class ServiceUnavailableError(SceauError):
    """The service (or its store) cannot answer now."""

    code = "unavailable"
    http_status = 503


class DependencyMissingError(SceauError):
    """An optional dependency is not installed (e.g. c2pa-python for ``sceau[c2pa]``)."""

    code = "dependency_missing"
    http_status = 501


class TransportError(SceauError):
    """The SDK could not reach the service, or got an answer it cannot read."""

    code = "transport_error"
    http_status = 502


_BY_CODE: dict[str, type[SceauError]] = {}


def _register(cls: type[SceauError]) -> None:
    _BY_CODE.setdefault(cls.code, cls)
    for sub in cls.__subclasses__():
        _register(sub)


_register(SceauError)


def error_from_code(code: str, detail: str) -> SceauError:
    """Rebuild the exception a service answered with; unknown codes give a plain SceauError."""
    cls = _BY_CODE.get(code)
    if cls is None:
        err = SceauError(detail)
        return err
    return cls(detail)
