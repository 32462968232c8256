"""The server process's GIL switch interval: shorter with PKCS#11 custody, else Python's."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sceau_service.settings import Settings


def test_default_is_pythons_own_with_file_keys() -> None:
    assert Settings(custody="file").effective_switch_interval_ms() is None


def test_pkcs11_custody_shortens_it() -> None:
    assert Settings(custody="pkcs11").effective_switch_interval_ms() == 0.2


def test_an_explicit_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCEAU_SWITCH_INTERVAL_MS", "1.5")
    assert Settings(custody="pkcs11").effective_switch_interval_ms() == 1.5
    assert Settings(custody="file").effective_switch_interval_ms() == 1.5


@pytest.mark.parametrize("bad", ["0", "-1", "1000", "soon"])
def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("SCEAU_SWITCH_INTERVAL_MS", bad)
    with pytest.raises(ValidationError):
        Settings()
