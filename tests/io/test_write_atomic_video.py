"""Atomic writes, input protection, error reasons, and the MP4 writer."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from textdifuse_desktop.errors import ImageDataError, OverwriteInputError, WriteError
from textdifuse_desktop.imaging.image import Image, Provenance
from textdifuse_desktop.io.writers import write_image, write_video
from textdifuse_desktop.io.writers.atomic import atomic_folder


def _listing(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_failed_write_leaves_no_partial_file_and_keeps_old_output(tmp_path, monkeypatch):
    import nibabel as nib

    target = tmp_path / "out.nii.gz"
    target.write_bytes(b"previous export")

    def broken_save(image, filename):
        with open(filename, "wb") as handle:
            handle.write(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(nib, "save", broken_save)
    with pytest.raises(WriteError, match="disk full") as info:
        write_image(Image(np.ones((2, 3, 4)), "ZYX"), target)
    assert str(target) in str(info.value)
    assert _listing(tmp_path) == ["out.nii.gz"] and target.read_bytes() == b"previous export"


def test_failed_folder_write_keeps_previous_folder(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    (folder / "old.dcm").write_text("old")
    with pytest.raises(WriteError, match="permission denied"):
        with atomic_folder(folder) as tmp:
            (tmp / "new.dcm").write_text("new")
            raise PermissionError(errno.EACCES, "Permission denied")
    assert _listing(tmp_path) == ["series", "series/old.dcm"]


def test_successful_folder_write_replaces_previous_export(tmp_path, rng):
    volume = Image(rng.uniform(0, 255, (2, 3, 4)), "ZYX")
    write_image(volume, tmp_path / "slices", format="png")
    write_image(volume.with_pixels(volume.pixels[:1]), tmp_path / "slices", format="png")
    assert _listing(tmp_path) == ["slices", "slices/slice_0000.png"]


def test_parent_folders_are_created(tmp_path):
    (path,) = write_image(Image(np.zeros((2, 2))), tmp_path / "a" / "b" / "c.png")
    assert path.exists()


@pytest.mark.parametrize("via", ["inputs", "provenance", "reference", "symlink"])
def test_refuses_to_overwrite_an_input(tmp_path, via):
    source = tmp_path / "in.png"
    source.write_bytes(b"original")
    image = Image(np.zeros((2, 2)))
    kwargs = {}
    target = source
    if via == "inputs":
        kwargs["inputs"] = [str(source)]
    elif via == "provenance":
        image = Image(np.zeros((2, 2)), provenance=Provenance(source_paths=(str(source),)))
    elif via == "reference":
        kwargs["reference"] = Image(np.zeros((2, 2)), provenance=Provenance(source_paths=(str(source),)))
    else:
        target = tmp_path / "link.png"
        os.symlink(source, target)
        kwargs["inputs"] = [source]
    with pytest.raises(OverwriteInputError, match="in.png"):
        write_image(image, target, **kwargs)
    assert source.read_bytes() == b"original"


def test_unwritable_folder_names_the_reason(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WriteError) as info:
        write_image(Image(np.zeros((2, 2))), blocker / "out.png")
    assert "file" in str(info.value) and "cannot" in str(info.value)


def test_video_pads_odd_sizes_and_counts_frames(tmp_path, rng):
    import av

    frames = [rng.integers(0, 256, (33, 47, 3), dtype=np.uint8) for _ in range(5)]
    frames[2][:] = 200
    path = write_video(iter(frames), tmp_path / "v.mp4", fps=12.5)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == 12.5 or float(stream.guessed_rate) == 12.5
    assert len(decoded) == 5 and decoded[0].shape == (34, 48, 3)
    assert np.abs(decoded[2][:33, :47].astype(int) - 200).mean() < 3


def test_video_errors(tmp_path):
    with pytest.raises(ImageDataError, match="no frames"):
        write_video([], tmp_path / "e.mp4", fps=10)
    with pytest.raises(ImageDataError, match="shape"):
        write_video([np.zeros((4, 4)), np.zeros((6, 6))], tmp_path / "s.mp4", fps=10)
    assert list(tmp_path.iterdir()) == []
    src = tmp_path / "in.mp4"
    src.write_bytes(b"x")
    with pytest.raises(OverwriteInputError):
        write_video([np.zeros((4, 4))], src, fps=10, inputs=[src])


def test_frame_stack_to_mp4_via_write_image(tmp_path, rng):
    import av

    frames = Image(rng.uniform(0, 255, (3, 8, 10)), "TYX", meta={"fps": 5})
    (path,) = write_image(frames, tmp_path / "f.mp4")
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3
