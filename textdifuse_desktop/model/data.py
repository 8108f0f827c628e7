"""Training and test data: folders of registered pairs -> luminance (Y) uint8 planes -> random crops.

Only numpy, Pillow and torch are used so that this runs on a bare GPU machine.

Splits (never train on a test split):

* IR/VIS train: ``msrs_train``, ``msrs_aux_rawir`` and RoadScene minus its held-out subset.
* IR/VIS test: ``msrs_test`` and the 25 RoadScene pairs with the smallest sha1 of the file name
  (:func:`roadscene_test_names`; RoadScene ships no split).
* Harvard MRI-CT/PET/SPECT: ``splits/train.txt`` for training, ``splits/test.txt`` for testing.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import ReadError

log = logging.getLogger(__name__)

ROADSCENE_TEST_SIZE = 25
MAX_SHORT_SIDE = 480
#: (task, folder below the data root, source-A folder, source-B folder, modality A, modality B)
IR_VIS_TRAIN = ("msrs_train", "msrs_aux_rawir", "roadscene")
IR_VIS_TEST = ("msrs_test", "roadscene")
MEDICAL = {"mri_ct": ("mri", "ct"), "mri_pet": ("mri", "pet"), "mri_spect": ("mri", "spect")}


@dataclass
class PairRecord:
    """One registered pair of luminance planes (uint8 HxW, same shape)."""

    task: str
    name: str
    mod_a: str
    mod_b: str
    a: np.ndarray
    b: np.ndarray


def roadscene_test_names(names: list[str]) -> list[str]:
    """The fixed RoadScene test subset: the 25 file names with the smallest sha1 of the name."""
    ranked = sorted(names, key=lambda n: hashlib.sha1(n.encode("utf-8")).hexdigest())
    return sorted(ranked[:ROADSCENE_TEST_SIZE])


def load_luma(path: PathLike, max_short_side: int | None = None) -> np.ndarray:
    """Y plane (full-range BT.601, PIL convention) of an image file as uint8."""
    try:
        with PILImage.open(path) as img:
            colour = img.mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr")
            img = img.convert("RGB").convert("YCbCr").getchannel(0) if colour else img.convert("L")
            if max_short_side and min(img.size) > max_short_side:
                scale = max_short_side / min(img.size)
                img = img.resize((round(img.size[0] * scale), round(img.size[1] * scale)), PILImage.BICUBIC)
            return np.asarray(img, dtype=np.uint8).copy()
    except OSError as error:
        raise ReadError(f"cannot read image: {error}", path=path, hint="check the file") from error


def _pair_names(task_dir: Path, sub_a: str, sub_b: str) -> list[str]:
    names_a = {p.name for p in (task_dir / sub_a).iterdir() if p.is_file()}
    names_b = {p.name for p in (task_dir / sub_b).iterdir() if p.is_file()}
    return sorted(names_a & names_b)


def collect_pairs(root: PathLike, split: str) -> list[tuple[str, str, str, str, Path, Path]]:
    """``(task, name, mod_a, mod_b, path_a, path_b)`` of every pair of ``split`` ("train" | "test") under ``root``.

    ``root`` holds ``ir_vis/`` and ``medical/harvard/`` as in the project's data folder.
    """
    root = Path(root)
    out: list[tuple[str, str, str, str, Path, Path]] = []
    for folder in IR_VIS_TRAIN if split == "train" else IR_VIS_TEST:
        task_dir = root / "ir_vis" / folder
        if not task_dir.is_dir():
            log.warning("missing %s", task_dir)
            continue
        names = _pair_names(task_dir, "ir", "vi")
        if folder == "roadscene":
            held_out = set(roadscene_test_names(names))
            names = [n for n in names if (n in held_out) == (split == "test")]
        out += [("ir_vis", f"{folder}/{n}", "ir", "vis", task_dir / "ir" / n, task_dir / "vi" / n) for n in names]
    for task, (sub_a, sub_b) in MEDICAL.items():
        task_dir = root / "medical" / "harvard" / task
        split_file = task_dir / "splits" / f"{split}.txt"
        if not split_file.is_file():
            log.warning("missing %s", split_file)
            continue
        names = [n.strip() for n in split_file.read_text().split() if n.strip()]
        out += [(task, f"{task}/{n}", sub_a, sub_b, task_dir / sub_a / n, task_dir / sub_b / n) for n in names]
    return out


def load_pairs(root: PathLike, split: str, max_short_side: int = MAX_SHORT_SIDE) -> list[PairRecord]:
    """Read every pair of ``split`` as luminance (IR/VIS downscaled to a short side of at most ``max_short_side``)."""
    records = []
    for task, name, mod_a, mod_b, pa, pb in collect_pairs(root, split):
        limit = max_short_side if task == "ir_vis" else None
        a, b = load_luma(pa, limit), load_luma(pb, limit)
        if a.shape != b.shape:
            log.warning("skipping %s: shapes %s and %s differ", name, a.shape, b.shape)
            continue
        records.append(PairRecord(task, name, mod_a, mod_b, a, b))
    return records


def _png(plane: np.ndarray) -> np.ndarray:
    buffer = io.BytesIO()
    PILImage.fromarray(plane).save(buffer, format="PNG", optimize=True)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


def _unpng(data: np.ndarray) -> np.ndarray:
    with PILImage.open(io.BytesIO(data.tobytes())) as img:
        return np.asarray(img.convert("L"), dtype=np.uint8).copy()


def save_pack(records: list[PairRecord], path: PathLike) -> Path:
    """Write pairs to one ``.npz`` (each plane PNG-encoded, lossless, plus a JSON index)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    index = [{"task": r.task, "name": r.name, "mod_a": r.mod_a, "mod_b": r.mod_b} for r in records]
    arrays = {f"a_{i}": _png(r.a) for i, r in enumerate(records)} | {f"b_{i}": _png(r.b) for i, r in enumerate(records)}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, index=np.array(json.dumps(index)), **arrays)
    tmp.replace(path)
    return path


def load_pack(path: PathLike) -> list[PairRecord]:
    """Read a pack written by :func:`save_pack`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            index = json.loads(str(data["index"]))
            return [PairRecord(e["task"], e["name"], e["mod_a"], e["mod_b"], _unpng(data[f"a_{i}"]),
                               _unpng(data[f"b_{i}"])) for i, e in enumerate(index)]
    except (OSError, KeyError, ValueError) as error:
        raise ReadError(f"not a training pack: {error}", path=path,
                        hint="make one with python -m textdifuse_desktop.model.pack_data") from error


class CropSampler:
    """Random aligned crops of pairs, held as uint8 tensors on ``device``; tasks are sampled equally often."""

    def __init__(self, records: list[PairRecord], crop: int, device: torch.device | str = "cpu", seed: int = 0):
        if not records:
            raise ValueError("no training pairs")
        self.crop = int(crop)
        self.device = torch.device(device)
        self.records = records
        self.planes = []
        for r in records:
            pair = torch.from_numpy(np.stack([r.a, r.b]))
            if min(pair.shape[-2:]) < self.crop:  # tiny images: upscale so one crop fits
                scale = self.crop / min(pair.shape[-2:])
                size = [max(self.crop, int(np.ceil(side * scale))) for side in pair.shape[-2:]]
                pair = torch.nn.functional.interpolate(pair[None].float(), size=size, mode="bilinear")
                pair = pair[0].round().clamp(0, 255).to(torch.uint8)
            self.planes.append(pair.to(self.device))
        tasks = sorted({r.task for r in records})
        self.by_task = [[i for i, r in enumerate(records) if r.task == task] for task in tasks]
        self.rng = np.random.default_rng(seed)

    def _crop(self, i: int) -> torch.Tensor:
        pair = self.planes[i]
        h, w = pair.shape[-2:]
        for _ in range(4):  # avoid empty background crops (medical slices are mostly black)
            y, x = int(self.rng.integers(0, h - self.crop + 1)), int(self.rng.integers(0, w - self.crop + 1))
            out = pair[:, y:y + self.crop, x:x + self.crop]
            if int(out.max()) > 20:
                break
        if self.rng.random() < 0.5:
            out = out.flip(-1)
        return out

    def sample_pairs(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
        """``(a, b, mods_a, mods_b)`` with a, b ``[B,1,crop,crop]`` float in [0, 1]."""
        idx = [int(self.rng.choice(self.by_task[int(self.rng.integers(len(self.by_task)))])) for _ in range(batch)]
        crops = torch.stack([self._crop(i) for i in idx]).float() / 255.0
        return (crops[:, :1], crops[:, 1:], [self.records[i].mod_a for i in idx],
                [self.records[i].mod_b for i in idx])

    def sample_single(self, batch: int) -> tuple[torch.Tensor, list[str]]:
        """Single-modality crops ``[B,1,crop,crop]`` (either side of a pair) and their modalities."""
        a, b, mods_a, mods_b = self.sample_pairs(batch)
        pick = torch.from_numpy(self.rng.random(batch) < 0.5).to(a.device)
        x = torch.where(pick[:, None, None, None], a, b)
        mods = [ma if p else mb for p, ma, mb in zip(pick.tolist(), mods_a, mods_b)]
        return x, mods
