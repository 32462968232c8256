"""``Pkcs11Signer.sign_many``: batches signed on the token, in this process or on signing
processes, against the session's real SoftHSM2."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sceau.errors import KeyCustodyError
from sceau_keys.pkcs11 import (
    SIGN_MANY_MIN_BATCH,
    Pkcs11Custody,
    Pkcs11Signer,
    default_sign_processes,
)

from ..softhsm import SoftHsm, require_python_pkcs11
from ..threads import run_threads

pkcs11 = require_python_pkcs11()


def _custody(hsm: SoftHsm, processes: int) -> Pkcs11Custody:
    return Pkcs11Custody(hsm.module, "sceau-test", hsm.pin, sign_processes=processes)


def _messages(n: int) -> list[bytes]:
    # Sizes vary (an empty message too) so that framing errors would show.
    return [secrets.token_bytes(i % 900) for i in range(n)]


def _worker_pids(custody: Pkcs11Custody) -> list[int]:
    pool = custody._pool
    assert pool is not None
    return sorted(w.proc.pid for w in pool._workers)


def _check(signer: Pkcs11Signer, messages: list[bytes], signatures: list[bytes]) -> None:
    assert len(signatures) == len(messages)
    public = Ed25519PublicKey.from_public_bytes(signer.public_key)
    for message, signature in zip(messages, signatures, strict=True):
        public.verify(signature, message)


@pytest.mark.parametrize("processes", [0, 2])
@pytest.mark.parametrize("n", [0, 1, SIGN_MANY_MIN_BATCH - 1, 301])
def test_sign_many_equals_sign_in_order(softhsm: SoftHsm, processes: int, n: int) -> None:
    custody = _custody(softhsm, processes)
    try:
        signer = custody.generate()
        messages = _messages(n)
        signatures = signer.sign_many(messages)
        _check(signer, messages, signatures)
        # Ed25519 is deterministic: the same signatures one by one, in the same order.
        assert signatures == [signer.sign(m) for m in messages]
        assert signer.sign_many(tuple(messages)) == signatures
    finally:
        custody.close()


def test_small_batches_stay_in_this_process(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm, 2)
    try:
        signer = custody.generate()
        _check(signer, m := _messages(SIGN_MANY_MIN_BATCH - 1), signer.sign_many(m))
        assert _worker_pids(custody) == []
        _check(signer, m := _messages(SIGN_MANY_MIN_BATCH), signer.sign_many(m))
        assert len(_worker_pids(custody)) == 2
    finally:
        custody.close()


def test_pin_is_not_on_the_workers_command_line_or_environment(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm, 1)
    try:
        signer = custody.generate()
        signer.sign_many(_messages(SIGN_MANY_MIN_BATCH))
        (pid,) = _worker_pids(custody)
        for part in ("cmdline", "environ"):
            assert softhsm.pin.encode() not in Path(f"/proc/{pid}/{part}").read_bytes()
    finally:
        custody.close()


def test_a_failing_worker_fails_the_whole_batch_then_is_replaced(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm, 2)
    try:
        signer = custody.generate()
        messages = _messages(400)
        expected = signer.sign_many(messages)
        first, second = _worker_pids(custody)
        os.kill(first, 9)
        os.waitpid(first, 0)
        # One chunk fails, the other is signed: nothing at all is returned.
        with pytest.raises(KeyCustodyError, match="signing process exited"):
            signer.sign_many(messages)
        again = signer.sign_many(messages)
        assert again == expected
        pids = _worker_pids(custody)
        assert second in pids and first not in pids and len(pids) == 2
    finally:
        custody.close()


def test_key_removed_from_the_token(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm, 2)
    try:
        signer = custody.generate()
        signer.sign_many(_messages(100))
        with pkcs11.lib(softhsm.module).get_token(token_label="sceau-test").open(
                rw=True) as sess:
            sess.get_key(pkcs11.ObjectClass.PRIVATE_KEY, label=signer.keyid).destroy()
        for n in (SIGN_MANY_MIN_BATCH - 1, 100):  # in this process, on the workers
            with pytest.raises(KeyCustodyError):
                signer.sign_many(_messages(n))
        # The workers answered in step and stay usable for other keys.
        other = custody.generate()
        _check(other, m := _messages(100), other.sign_many(m))
    finally:
        custody.close()


def test_non_bytes_refused_before_signing(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm, 0)
    signer = custody.generate()
    with pytest.raises(TypeError):
        signer.sign_many([b"a", "b"])  # type: ignore[list-item]


def test_close_stops_the_workers_and_the_custody_stays_usable(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm, 2)
    signer = custody.generate()
    signer.sign_many(_messages(100))
    pool = custody._pool
    assert pool is not None
    procs = [w.proc for w in pool._workers]
    custody.close()
    assert all(p.poll() is not None for p in procs)
    _check(signer, m := _messages(100), signer.sign_many(m))
    custody.close()


def test_concurrent_sign_many_and_sign(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm, 2)
    try:
        signers = [custody.generate(), custody.generate()]
        results: list[tuple[Pkcs11Signer, list[bytes], list[bytes]]] = []
        lock = threading.Lock()

        def work(n: int) -> None:
            for i in range(4):
                signer = signers[(n + i) % 2]
                messages = _messages(SIGN_MANY_MIN_BATCH + 37 * n + i)
                if i == 3:
                    signatures = [signer.sign(m) for m in messages[:5]]
                    messages = messages[:5]
                else:
                    signatures = signer.sign_many(messages)
                with lock:
                    results.append((signer, messages, signatures))

        assert not run_threads(work, 6)
        assert len(results) == 6 * 4
        for signer, messages, signatures in results:
            _check(signer, messages, signatures)
        assert len(_worker_pids(custody)) == 2
    finally:
        custody.close()


def test_sign_processes_setting(softhsm: SoftHsm, tmp_path: Path) -> None:
    from pydantic import SecretStr

    from sceau_service import Settings
    from sceau_service.admin import custody_for

    def custody(**extra: object) -> Pkcs11Custody:
        fields: dict[str, object] = {"data_dir": tmp_path, "custody": "pkcs11",
                                     "pkcs11_module": softhsm.module,
                                     "pkcs11_token_label": "sceau-test",
                                     "pkcs11_pin": SecretStr(softhsm.pin), **extra}
        made = custody_for(Settings(**fields))  # type: ignore[arg-type]
        assert isinstance(made, Pkcs11Custody)
        return made

    assert custody(pkcs11_sign_processes=0)._pool is None
    default = custody()
    assert default._pool is not None and default._pool._size == default_sign_processes()
    one = custody(pkcs11_sign_processes=1)
    try:
        signer = one.generate()
        _check(signer, m := _messages(200), signer.sign_many(m))
        assert len(_worker_pids(one)) == 1
    finally:
        one.close()


def test_start_signing_processes(softhsm: SoftHsm) -> None:
    custody = _custody(softhsm, 2)
    try:
        custody.start_signing_processes()
        pids = _worker_pids(custody)
        assert len(pids) == 2
        signer = custody.generate()
        _check(signer, m := _messages(100), signer.sign_many(m))
        assert _worker_pids(custody) == pids
    finally:
        custody.close()
    _custody(softhsm, 0).start_signing_processes()  # no pool: nothing to start


_ORPHAN_SCRIPT = """
import os, signal, sys
from sceau_keys.pkcs11 import Pkcs11Custody
custody = Pkcs11Custody(sys.argv[1], "sceau-test", sys.argv[2], sign_processes=2)
custody.start_signing_processes()
print(" ".join(str(w.proc.pid) for w in custody._pool._workers), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_workers_end_when_their_parent_is_killed(softhsm: SoftHsm) -> None:
    done = subprocess.run([sys.executable, "-c", _ORPHAN_SCRIPT, softhsm.module, softhsm.pin],
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2

    def running(pid: int) -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited

    deadline = time.monotonic() + 10
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(running(p) for p in pids)
