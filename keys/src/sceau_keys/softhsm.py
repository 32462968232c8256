"""A private SoftHSM2 for development, tests and benchmarks: its own ``softhsm2.conf`` and
tokens in a directory of the caller's, so no system-wide token is touched.

Point ``SOFTHSM2_CONF`` at the returned configuration before the module is first loaded
(SoftHSM2 reads it at ``C_Initialize``), then use :class:`sceau_keys.pkcs11.Pkcs11Custody`
with one of the token labels.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["init_softhsm2"]


def init_softhsm2(directory: Path, labels: Sequence[str], *, so_pin: str, pin: str,
                  util: str = "softhsm2-util") -> dict[str, str]:
    """Write ``directory/softhsm2.conf`` (tokens in ``directory/tokens``, mode 0700) and
    initialise one token per label with these PINs; returns the environment the module
    needs (``{"SOFTHSM2_CONF": ...}``).  Raises :class:`subprocess.CalledProcessError`
    when ``softhsm2-util`` fails."""
    tokendir = directory / "tokens"
    tokendir.mkdir(mode=0o700)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokendir}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    for label in labels:
        # An argument list, no shell: labels and PINs are never parsed as a command line.
        subprocess.run(  # noqa: S603
            [util, "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", pin],
            env={**os.environ, **env}, check=True, capture_output=True, timeout=60)
    return env
