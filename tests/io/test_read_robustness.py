"""Bad input always gives a typed error naming the file: random bytes, mutated files, empty inputs."""

from __future__ import annotations

import contextlib
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from textdifuse_desktop.errors import ReadError, TextDifuseError, UnsupportedFormatError
from textdifuse_desktop.io import available_readers, read_image

SUFFIXES = [
    ".dcm",
    ".nii",
    ".nii.gz",
    ".png",
    ".jpg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".mp4",
    ".avi",
    ".mkv",
    "",
    ".txt",
]
CT_SMALL = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) when the body runs longer than ``seconds``."""

    def _raise(signum, frame):  # noqa: ARG001
        raise TimeoutError(f"reader hung for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check_read(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"sample{suffix}"
        path.write_bytes(data)
        with time_limit(10):
            try:
                read_image(path)
            except TextDifuseError as error:
                assert error.path is not None and error.path.name == path.name, str(error)
                assert path.name in str(error)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(min_size=1, max_size=2048), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_give_typed_errors(data: bytes, suffix: str) -> None:
    _check_read(data, suffix)


def _valid_png() -> bytes:
    import io

    buffer = io.BytesIO()
    PILImage.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buffer, format="PNG")
    return buffer.getvalue()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(["dicom", "png"]),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_mutated_real_files_give_typed_errors_or_images(base: str, cut: float, flips: list[tuple[float, int]]) -> None:
    data = bytearray(CT_SMALL.read_bytes() if base == "dicom" else _valid_png())
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    data = data[: max(1, int(cut * len(data)))]
    _check_read(bytes(data), ".dcm" if base == "dicom" else ".png")


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ReadError, match="empty.png.*0 bytes"):
        read_image(tmp_path / "empty.png")


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ReadError, match="nothing.*folder is empty"):
        read_image(tmp_path / "nothing")


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="not found"):
        read_image(tmp_path / "absent.nii")


def test_unsupported_format_lists_the_readers(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UnsupportedFormatError) as info:
        read_image(tmp_path / "notes.txt")
    message = str(info.value)
    assert "notes.txt" in message
    for reader in available_readers():
        assert reader.name in message


def test_every_failing_claimant_is_reported(tmp_path: Path) -> None:
    # A .dcm name claims the DICOM reader; PNG magic bytes (truncated) make the raster reader claim it too.
    (tmp_path / "odd.dcm").write_bytes(_valid_png()[:40])
    with pytest.raises(UnsupportedFormatError, match=r"every reader failed: dicom: .*; raster: "):
        read_image(tmp_path / "odd.dcm")
