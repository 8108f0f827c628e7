"""The C allocator's tuning for CPU inference (model/host_allocator.py)."""

from __future__ import annotations

import platform
import resource

import pytest

from textdifuse_desktop.model import host_allocator


@pytest.fixture
def fresh(monkeypatch):
    host_allocator.tune_host_allocator.cache_clear()
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", host_allocator.ENV_SWITCH):
        monkeypatch.delenv(name, raising=False)
    yield
    host_allocator.tune_host_allocator.cache_clear()


def test_switched_off_or_set_by_the_user_it_leaves_the_defaults(fresh, monkeypatch) -> None:
    monkeypatch.setenv(host_allocator.ENV_SWITCH, "0")
    assert host_allocator.tune_host_allocator() is False
    host_allocator.tune_host_allocator.cache_clear()
    monkeypatch.delenv(host_allocator.ENV_SWITCH)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    assert host_allocator.tune_host_allocator() is False


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_with_glibc_freed_blocks_are_reused_instead_of_faulted_in_again(fresh) -> None:
    np = pytest.importorskip("numpy")
    assert host_allocator.tune_host_allocator() is True
    assert host_allocator.tune_host_allocator() is True  # once per process, the same answer

    def faults_of_a_loop() -> int:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            block = np.ones(4 << 20, dtype=np.uint8)  # 4 MB, like a feature map, freed at once
            del block
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults_of_a_loop()  # the first pass may grow the heap
    assert faults_of_a_loop() < 200  # untuned glibc gives the pages back after each block: about 1 000 faults
