"""Video reader: lazy VideoSequence over small files written with PyAV in tmp_path."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from textdifuse_desktop.errors import ImageDataError, ReadError
from textdifuse_desktop.io import read_image
from textdifuse_desktop.io.readers.video import VideoSequence

N_FRAMES, H, W = 24, 32, 48


def _write(path: Path, codec: str, colour: bool, fps: int = 12, gop: int = 6) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = W, H
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        for index in range(N_FRAMES):
            value = 10 + 9 * index
            rgb = np.full((H, W, 3), value, np.uint8)
            if colour:
                rgb[..., 0] = 255 - value
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def grey_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "thermal.mp4"
    _write(path, "libx264", colour=False)
    return path


def test_sequence_metadata_and_random_access(grey_mp4: Path) -> None:
    sequence = read_image(grey_mp4, modality="IR")
    assert isinstance(sequence, VideoSequence)
    with sequence:
        assert sequence.fps == pytest.approx(12.0) and sequence.frame_count == N_FRAMES == len(sequence)
        assert sequence.frame_shape == (H, W) and sequence.path == grey_mp4
        for index in (17, 3, 4, 5, 23, 0, -1):
            image = sequence.frame(index)
            expected = 10 + 9 * (index % N_FRAMES)
            assert image.axes == "YX" and image.modality == "IR"
            assert abs(float(image.pixels.mean()) - expected) < 3, index
            assert image.meta["frame_index"] == index % N_FRAMES
        with pytest.raises(ImageDataError, match="out of range"):
            sequence.frame(N_FRAMES)


def test_iteration_yields_every_frame_in_order(grey_mp4: Path) -> None:
    with read_image(grey_mp4) as sequence:
        means = [float(image.pixels.mean()) for image in sequence]
    assert len(means) == N_FRAMES
    assert np.all(np.abs(np.array(means) - (10 + 9 * np.arange(N_FRAMES))) < 3)


def test_frame_option_returns_one_image(grey_mp4: Path) -> None:
    image = read_image(grey_mp4, frame=7)
    assert abs(float(image.pixels.mean()) - (10 + 63)) < 3 and image.meta["time_s"] == pytest.approx(7 / 12, abs=1e-3)


def test_colour_avi_and_mkv_without_frame_count(tmp_path: Path) -> None:
    for name in ("c.avi", "c.mkv"):
        _write(tmp_path / name, "mpeg4", colour=True)
        with read_image(tmp_path / name) as sequence:
            assert sequence.frame_count == N_FRAMES and sequence.frame_shape == (H, W, 3)
            image = sequence.frame(10)
            assert image.axes == "YXC"
            assert abs(float(image.pixels[..., 1].mean()) - 100) < 4
            assert abs(float(image.pixels[..., 0].mean()) - 155) < 4


def test_broken_video_is_a_read_error(tmp_path: Path) -> None:
    (tmp_path / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    with pytest.raises(ReadError, match="bad.mp4"):
        read_image(tmp_path / "bad.mp4")
