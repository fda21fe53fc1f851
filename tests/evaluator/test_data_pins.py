from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from evaluator import DataIntegrityError, DataSource

FILE = "mmlu/data/dev/anatomy_dev.csv"


def _pinned_copy(tmp_path: Path, content: bytes) -> tuple[DataSource, str]:
    target = tmp_path / FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(content)
    return DataSource(tmp_path), hashlib.sha256(content).hexdigest()


def test_reads_a_file_matching_its_pin(tmp_path: Path) -> None:
    data, sha = _pinned_copy(tmp_path, b"q,a,b,c,d,A\n")
    assert data.read_bytes(FILE, sha) == b"q,a,b,c,d,A\n"


def test_tampered_file_names_file_expected_and_actual_hash(
    scenario_root: Path, tmp_path: Path
) -> None:
    original = (scenario_root / FILE).read_bytes()
    pin = hashlib.sha256(original).hexdigest()
    (tmp_path / FILE).parent.mkdir(parents=True)
    shutil.copyfile(scenario_root / FILE, tmp_path / FILE)
    tampered = original.replace(b",A", b",B", 1)
    (tmp_path / FILE).write_bytes(tampered)

    with pytest.raises(DataIntegrityError) as caught:
        DataSource(tmp_path).read_bytes(FILE, pin)
    actual = hashlib.sha256(tampered).hexdigest()
    assert caught.value.path == FILE
    assert (caught.value.expected, caught.value.actual) == (pin, actual)
    assert FILE in str(caught.value) and pin in str(caught.value) and actual in str(caught.value)


def test_missing_file_is_an_integrity_error(tmp_path: Path) -> None:
    with pytest.raises(DataIntegrityError, match=f"{FILE} is missing"):
        DataSource(tmp_path).read_bytes(FILE, "0" * 64)


def test_paths_cannot_escape_the_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="inside the data root"):
        DataSource(tmp_path).read_bytes("../etc/passwd", "0" * 64)


def test_verify_checks_every_pin_up_front(tmp_path: Path) -> None:
    data, sha = _pinned_copy(tmp_path, b"x")
    data.verify({FILE: sha})
    with pytest.raises(DataIntegrityError):
        data.verify({FILE: sha, "mmlu/data/dev/other_dev.csv": sha})
