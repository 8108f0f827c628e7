"""A Hugging Face Hub stand-in on 127.0.0.1 for the CLIP download tests (no outside network).

It answers ``HEAD``/``GET /{repo}/resolve/{revision}/{file}`` as the hub
does for an LFS file (``X-Repo-Commit``, ``X-Linked-Etag`` = sha256,
``X-Linked-Size``, ranges), ``404`` + ``X-Error-Code: EntryNotFound`` for a
file it does not have.  Faults for the tests: ``cut_after`` bytes (then the
connection is closed mid-body), ``wrong_etag`` (a sha256 that does not match
the body).  A tiny open_clip architecture ``TinyTest-ViT`` with a pretrained
tag ``tinytest`` pointing at the repo is registered by :func:`register_tiny_clip`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
REPO = "textdifuse-test/tiny-clip"
MODEL, TAG = "TinyTest-ViT", "tinytest"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def tiny_checkpoint_bytes(seed: int = 0) -> bytes:
    """A randomly initialised TinyTest-ViT state dict as safetensors bytes."""
    import open_clip
    import torch
    from safetensors.torch import save

    torch.manual_seed(seed)
    state = {k: v.contiguous() for k, v in open_clip.CLIP(**TINY).state_dict().items()}
    return save(state)


def register_tiny_clip(config_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Make ``TinyTest-ViT`` / ``tinytest`` known to open_clip (architecture and pretrained table)."""
    import open_clip

    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / f"{MODEL}.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(config_dir)
    table = dict(open_clip.pretrained._PRETRAINED)
    table[MODEL] = {TAG: open_clip.pretrained._pcfg(hf_hub=f"{REPO}/")}
    monkeypatch.setattr(open_clip.pretrained, "_PRETRAINED", table)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HubServer

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def _lookup(self) -> bytes | None:
        prefix = f"/{REPO}/resolve/"
        if not self.path.startswith(prefix):
            return None
        name = self.path[len(prefix):].split("/", 1)[-1]
        return self.server.files.get(name)

    def _headers(self, body: bytes | None, length: int | None = None) -> None:
        if body is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        etag = self.server.wrong_etag or hashlib.sha256(body).hexdigest()
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("X-Linked-Etag", f'"{etag}"')
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Linked-Size", str(len(body)))
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self.server.requests.append(("HEAD", self.path))
        self._headers(self._lookup())

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append(("GET", self.path))
        body = self._lookup()
        start = 0
        if body is not None and self.headers.get("Range", "").startswith("bytes="):
            start = int(self.headers["Range"][6:].split("-")[0] or 0)
        self._headers(body, None if body is None else len(body) - start)
        if body is None:
            return
        data = body[start:]
        if self.server.cut_after is not None:
            data = data[: max(0, self.server.cut_after - start)]
        self.wfile.write(data)
        self.wfile.flush()
        if self.server.cut_after is not None:
            self.close_connection = True


class _HubServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, bytes], cut_after: int | None, wrong_etag: str | None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files, self.cut_after, self.wrong_etag = files, cut_after, wrong_etag
        self.requests: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serve_hub(files: dict[str, bytes], *, cut_after: int | None = None,
              wrong_etag: str | None = None) -> Iterator[_HubServer]:
    """Run the stand-in on a free loopback port for the ``with`` block."""
    server = _HubServer(files, cut_after, wrong_etag)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def point_hub_at(server_url: str, cache: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Send downloads to ``server_url`` and the hub cache to ``cache`` (read at call time by clip_models).

    tests/conftest.py sets ``HF_HUB_OFFLINE=1`` for the whole suite; the hub
    read it at import, so it is lifted here on the hub's constant.
    """
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", server_url)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")

