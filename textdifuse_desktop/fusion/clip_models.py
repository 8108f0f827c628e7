"""open_clip models for text prompts: a local checkpoint file, or standard weights by name, fetched once with consent.

* **Standard weights** (default ``ViT-B-32`` / ``laion2b_s34b_b79k``): the
  tag is resolved through open_clip's own pretrained table
  (``open_clip.pretrained.get_pretrained_cfg``) to its Hugging Face repo,
  and the file is fetched with ``huggingface_hub.hf_hub_download`` into the
  standard hub cache (``HF_HUB_CACHE``; ``HF_ENDPOINT`` and
  ``HF_HUB_OFFLINE`` are honoured), exactly where open_clip itself would put
  it, safetensors first as open_clip does.  :func:`download_weights` runs
  only after the user agreed (the GUI's dialog, the CLI's
  ``--allow-download`` or the ``clip_allow_download`` setting).
* **Integrity**: the hub downloads into a temporary file and moves it into
  place only when complete, so an interrupted download leaves nothing that
  could be loaded.  The finished file's sha256 is then compared with the
  server's (a hub file's ETag is its sha256); a mismatch deletes it and
  raises :class:`WeightsIntegrityError`.
* **A local file** (``--clip-checkpoint`` / the ``clip_checkpoint``
  setting) is loaded as before.  Every failure is one typed error: no
  ``open_clip`` package, a corrupt or mismatched file, out of memory, no
  network.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import (
    DeviceError,
    FeatureUnavailableError,
    ModelLoadError,
    WeightsIntegrityError,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
INSTALL_HINT = "install the extra: pip install 'textdifuse-desktop[clip]' (or pip install open_clip_torch)"
#: Size and licence shown before consent, without asking the network (151.3 M float32 parameters; LAION's model card).
KNOWN = {("ViT-B-32", "laion2b_s34b_b79k"): (605_000_000, "MIT")}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

#: ``progress(done_bytes, total_bytes_or_None)``; ``cancelled() -> bool`` stops the download.
Progress = Callable[[int, "int | None"], None]


class DownloadCancelled(FeatureUnavailableError):
    """The user cancelled the weights download; nothing was kept."""


@dataclass(frozen=True)
class ClipWeights:
    """Standard open_clip weights: architecture, pretrained tag, where the hub keeps them."""

    model: str
    pretrained: str
    repo_id: str
    filenames: tuple[str, ...]
    size_bytes: int | None = None
    licence: str = ""

    @property
    def card_url(self) -> str:
        """The model card (licence, training data)."""
        return f"https://huggingface.co/{self.repo_id}"

    @property
    def label(self) -> str:
        """``"CLIP ViT-B-32 laion2b_s34b_b79k"``."""
        return f"CLIP {self.model} {self.pretrained}"

    def describe(self) -> str:
        """Name, size and licence in one line (the consent text)."""
        size = f"about {self.size_bytes / 1e6:.0f} MB" if self.size_bytes else "size shown when the download starts"
        licence = self.licence or f"see {self.card_url}"
        return f"{self.label} ({size}, licence {licence}, huggingface.co/{self.repo_id})"


def require_open_clip() -> Any:
    """``import open_clip``, or a FeatureUnavailableError saying how to install it."""
    try:
        import open_clip
    except ImportError as error:
        raise FeatureUnavailableError("text prompts with a CLIP model need the open_clip package",
                                      hint=INSTALL_HINT) from error
    return open_clip


def standard_weights(model: str = DEFAULT_MODEL, pretrained: str = DEFAULT_PRETRAINED) -> ClipWeights:
    """Resolve ``model`` / ``pretrained`` through open_clip's table (no network)."""
    open_clip = require_open_clip()
    cfg = open_clip.pretrained.get_pretrained_cfg(model, pretrained)
    hub = (cfg or {}).get("hf_hub", "")
    if not hub:
        tags = ", ".join(open_clip.pretrained.list_pretrained_tags_by_model(model)) or "none"
        raise FeatureUnavailableError(f"open_clip has no downloadable weights {model!r} / {pretrained!r}",
                                      hint=f"tags for {model}: {tags}")
    repo_id, filename = os.path.split(hub)
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    filename = filename or HF_WEIGHTS_NAME
    safe = HF_SAFE_WEIGHTS_NAME if filename == HF_WEIGHTS_NAME else re.sub(r"\.(bin|pth?)$", ".safetensors", filename)
    names = tuple(dict.fromkeys((safe, filename)))
    size, licence = KNOWN.get((model, pretrained), (None, ""))
    return ClipWeights(model, pretrained, repo_id, names, size, licence)


def _cache_dir() -> str | None:
    return os.environ.get("HF_HUB_CACHE") or None


def cache_folder() -> str:
    """Where the weights go: ``HF_HUB_CACHE``, else the hub's standard cache (e.g. ``~/.cache/huggingface/hub``)."""
    from huggingface_hub import constants

    return _cache_dir() or str(constants.HF_HUB_CACHE)


def cached_weights(weights: ClipWeights) -> Path | None:
    """The weights file in the hub cache, or None (no network)."""
    from huggingface_hub import try_to_load_from_cache

    for name in weights.filenames:
        found = try_to_load_from_cache(weights.repo_id, name, cache_dir=_cache_dir())
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def _progress_class(progress: Progress | None, cancelled: Callable[[], bool] | None) -> type:
    from tqdm import tqdm

    class _Report(tqdm):  # type: ignore[misc, type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True  # no console bar: the GUI/CLI show their own
            super().__init__(*args, **kwargs)
            self.done = int(kwargs.get("initial") or 0)
            self.expected = kwargs.get("total")

        def update(self, n: float | None = 1) -> bool | None:
            self.done += int(n or 0)
            if progress is not None:
                progress(self.done, self.expected)
            if cancelled is not None and cancelled():
                raise DownloadCancelled("the CLIP weights download was cancelled; nothing was kept")
            return None

    return _Report


def _verify(path: Path, weights: ClipWeights, name: str) -> None:
    blob = path.resolve()
    expected = blob.name if _SHA256.match(blob.name) else None
    if expected is None:
        return  # a cache without symlinks names files, not blobs: the hub's size check is all there is
    digest = hashlib.sha256()
    with open(blob, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        for stale in (path, blob):
            stale.unlink(missing_ok=True)
        raise WeightsIntegrityError(
            f"the downloaded {name} of {weights.label} is damaged (sha256 {digest.hexdigest()[:12]}, "
            f"server says {expected[:12]}) and was deleted", hint="try again; check HF_ENDPOINT or a proxy if it recurs")


def _reachable(repo_id: str, name: str, endpoint: str | None) -> None:
    """One HEAD of the file, no retries: raises the hub's error when it is missing or the server is unreachable."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub import errors as hub_errors

    if constants.HF_HUB_OFFLINE:
        raise hub_errors.LocalEntryNotFoundError("offline mode (HF_HUB_OFFLINE) is on")
    url = hf_hub_url(repo_id, name, endpoint=endpoint)
    try:
        get_hf_file_metadata(url, timeout=10)
    except (hub_errors.HfHubHTTPError, hub_errors.EntryNotFoundError):
        raise
    except OSError as error:  # connection refused, DNS, timeout: the network is not there
        raise hub_errors.LocalEntryNotFoundError(f"cannot reach {url}: {error}") from error
    except Exception as error:  # noqa: BLE001 - httpx2 transport errors are not OSError
        raise hub_errors.LocalEntryNotFoundError(f"cannot reach {url}: {error}") from error


def download_weights(weights: ClipWeights, *, progress: Progress | None = None,
                     cancelled: Callable[[], bool] | None = None) -> Path:
    """Fetch ``weights`` into the hub cache (call only after consent); returns the file.

    Raises FeatureUnavailableError (offline, network or server failure,
    cancelled) or WeightsIntegrityError (checksum mismatch).
    """
    from huggingface_hub import errors as hub_errors
    from huggingface_hub import hf_hub_download

    missing = getattr(hub_errors, "RemoteEntryNotFoundError", hub_errors.EntryNotFoundError)

    open_clip = require_open_clip()
    options: dict[str, Any] = {"cache_dir": _cache_dir(), "endpoint": os.environ.get("HF_ENDPOINT") or None,
                               "library_name": "open_clip", "library_version": open_clip.__version__}
    if "tqdm_class" in inspect.signature(hf_hub_download).parameters:
        options["tqdm_class"] = _progress_class(progress, cancelled)
    hint = "check the network and try again; brushing and the word list keep working"
    for name in weights.filenames:
        try:
            _reachable(weights.repo_id, name, options["endpoint"])  # fails in a second where the hub retries for 20 s
            path = Path(hf_hub_download(weights.repo_id, name, **options))
        except DownloadCancelled:
            raise
        except hub_errors.LocalEntryNotFoundError as error:
            raise FeatureUnavailableError(f"cannot download {weights.label}: offline or the server is unreachable",
                                          hint=hint) from error
        except missing:
            log.debug("%s has no %s; trying the next file", weights.repo_id, name)
            continue
        except Exception as error:  # noqa: BLE001 - httpx, OSError, hub errors: one line for the user
            reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
            raise FeatureUnavailableError(f"downloading {weights.label} failed: {reason}", hint=hint) from error
        _verify(path, weights, name)
        log.info("downloaded %s to %s", weights.label, path)
        return path
    raise FeatureUnavailableError(f"the server has no weights file for {weights.label} ({', '.join(weights.filenames)})",
                                  hint=weights.card_url)


def load_model(path: PathLike, model_name: str, device: str = "cpu") -> tuple[Any, Any]:
    """``(model, tokenizer)`` of an open_clip ``model_name`` from a local weights file, with one-line errors."""
    import torch

    open_clip = require_open_clip()
    try:
        model, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=str(path), device=device)
        tokenizer = open_clip.get_tokenizer(model_name)
    except (torch.OutOfMemoryError, MemoryError) as error:
        raise DeviceError(f"out of memory loading CLIP {model_name} on {device}", path=path,
                          hint="close other programs or use --device cpu") from error
    except Exception as error:  # noqa: BLE001 - unpickling, safetensors, shape asserts: one line for the user
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise ModelLoadError(f"cannot load it as open_clip model {model_name!r}: {reason}", path=path,
                             hint="check the file is complete and that --clip-model names its architecture, e.g. ViT-B-32") from error
    return model.eval(), tokenizer


def open_clip_installed() -> bool:
    """True when ``open_clip`` can be imported (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("open_clip") is not None
