"""Undo/redo of view and parameter snapshots with region-edit markers in one timeline (session.view_history)."""

from __future__ import annotations

from textdifuse_desktop.session.view_history import ViewHistory, changed_parts


def _snap(window=(40.0, 80.0), colormap="Grey", steps=1) -> dict:
    return {"view": {"panes": {"a": {"window": list(window), "colormap": colormap}}}, "params": {"steps": steps}}


def test_record_undo_redo_and_labels() -> None:
    history = ViewHistory()
    history.reset(_snap())
    assert not history.record(_snap())  # nothing changed: no step
    assert history.record(_snap(window=(50.0, 90.0)))
    assert history.record(_snap(window=(50.0, 90.0), colormap="Hot"))
    assert history.peek_undo().label == "colour map"
    step = history.undo()
    assert step.before == _snap(window=(50.0, 90.0)) and history.current == step.before
    assert history.undo().label == "window/level"
    assert history.current == _snap() and not history.can_undo
    assert history.redo().after == _snap(window=(50.0, 90.0))
    assert history.can_redo
    history.record(_snap(window=(50.0, 90.0), steps=4))  # a new change drops the redo branch
    assert not history.can_redo and history.peek_undo().label == "fusion parameters"


def test_markers_keep_region_edits_in_the_same_timeline() -> None:
    history = ViewHistory()
    history.reset(_snap())
    history.record(_snap(colormap="Hot"))
    history.mark("regions")
    assert history.peek_undo().label == "region edit"
    assert history.undo().kind == "regions" and history.current == _snap(colormap="Hot")
    assert history.undo().kind == "view" and history.current == _snap()
    assert [history.redo().kind, history.redo().kind] == ["view", "regions"]


def test_bounded_and_reset() -> None:
    history = ViewHistory(max_steps=3)
    history.reset(_snap())
    for width in range(10):
        history.record(_snap(window=(40.0, 100.0 + width)))
    count = 0
    while history.undo() is not None:
        count += 1
    assert count == 3
    history.reset(None)
    assert not history.can_undo and not history.can_redo and history.current is None
    assert not history.record(_snap())  # the first snapshot after a reset is the baseline
    assert changed_parts({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 0}) == ["c", "d"]
