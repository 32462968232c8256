"""A private SoftHSM2 installation for one test session: its own softhsm2.conf and token
directory under pytest's temporary directory, so no global token state is touched."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sceau_keys.pkcs11 import DEFAULT_MODULE
from sceau_keys.softhsm import init_softhsm2

#: Tokens initialised for the session: signing keys, root keys, and one that only the
#: wrong-PIN tests log in to (a login is per process and token: PKCS#11 v2.40 §5.6).
TOKENS = ("sceau-test", "sceau-root", "sceau-pin-check", "sceau-bench")
USER_PIN = "test-user-pin-1234"
SO_PIN = "test-so-pin-5678"


@dataclass
class SoftHsm:
    """Where the session's SoftHSM2 lives and how to reach its tokens."""

    module: str
    conf: Path
    pin: str = USER_PIN
    tokens: tuple[str, ...] = TOKENS
    env: dict[str, str] = field(default_factory=dict)

    def server_env(self, token: str = "sceau-test") -> dict[str, str]:
        """Environment for a service process that keeps its keys on ``token``."""
        return {**self.env, "SCEAU_CUSTODY": "pkcs11", "SCEAU_PKCS11_MODULE": self.module,
                "SCEAU_PKCS11_TOKEN_LABEL": token, "SCEAU_PKCS11_PIN": self.pin}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(message: str) -> None:
    if _in_ci():
        pytest.fail(f"SoftHSM2 is required in CI: {message}")
    sys.stderr.write(f"\n!!! SKIPPING SoftHSM2/PKCS#11 tests: {message}\n")
    pytest.skip(message)


def require_python_pkcs11() -> Any:
    """The ``pkcs11`` module, for test modules that use it directly: skipped loudly when
    python-pkcs11 is missing, except in CI, where that fails."""
    try:
        import pkcs11
    except ImportError:
        message = "python-pkcs11 is not installed (dev group / sceau-keys[pkcs11])"
        if _in_ci():
            raise
        sys.stderr.write(f"\n!!! SKIPPING PKCS#11 tests: {message}\n")
        pytest.skip(message, allow_module_level=True)
    return pkcs11


def softhsm_session(base: Path) -> Iterator[SoftHsm]:
    """Set up SoftHSM2 in ``base`` (SOFTHSM2_CONF points there for the whole session)."""
    util = shutil.which("softhsm2-util")
    module = os.environ.get("SCEAU_PKCS11_MODULE", DEFAULT_MODULE)
    if util is None:
        _unavailable("softhsm2-util not found (Debian package softhsm2; "
                     "scripts/system-deps.sh installs it)")
    if not os.path.isfile(module):
        _unavailable(f"PKCS#11 module {module} not found (set SCEAU_PKCS11_MODULE)")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        _unavailable("python-pkcs11 is not installed (dev group / sceau-keys[pkcs11])")
    assert util is not None
    env = init_softhsm2(base, TOKENS, so_pin=SO_PIN, pin=USER_PIN, util=util)
    conf = Path(env["SOFTHSM2_CONF"])
    with pytest.MonkeyPatch.context() as mp:
        # Read by the module at C_Initialize, i.e. when this process first loads it.
        mp.setenv("SOFTHSM2_CONF", str(conf))
        yield SoftHsm(module, conf, env=env)
