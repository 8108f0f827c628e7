"""Property test: any sequence of mask edits is undone and redone exactly."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from textdifuse_desktop.session.regions import RegionSet

SHAPE = (3, 24, 32)

stamp = st.tuples(st.just("disc"), st.floats(-5, 36), st.floats(-5, 28), st.floats(0.5, 8),
                  st.integers(0, 2), st.booleans())
box = st.tuples(st.just("box"), st.floats(-5, 36), st.floats(-5, 28), st.floats(-5, 36),
                st.floats(-5, 28), st.one_of(st.none(), st.integers(0, 2)), st.booleans())
stroke = st.tuples(st.just("stroke"), st.lists(stamp, min_size=1, max_size=6))


def _apply(rs: RegionSet, op) -> None:
    if op[0] == "disc":
        _, x, y, r, z, erase = op
        rs.stamp_disc(0, (x, y), r, slice_index=z, erase=erase)
    elif op[0] == "box":
        _, x0, y0, x1, y1, z, erase = op
        rs.fill_box(0, (x0, y0, x1, y1), slice_index=z, erase=erase)
    else:
        with rs.stroke(0):
            for sub in op[1]:
                _apply(rs, sub)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(stamp, box, stroke), min_size=1, max_size=12))
def test_undo_all_then_redo_all_restores_every_state(ops):
    rs = RegionSet(SHAPE)
    rs.add()
    states = [rs[0].mask.copy()]
    for op in ops:
        _apply(rs, op)
        if not np.array_equal(rs[0].mask, states[-1]):  # no-op edits add no undo step
            states.append(rs[0].mask.copy())
    for expected in reversed(states[:-1]):
        assert rs.undo()
        np.testing.assert_array_equal(rs[0].mask, expected)
    assert rs.undo() and len(rs) == 0 and not rs.can_undo  # the add step
    rs.redo()
    for expected in states[1:]:
        assert rs.redo()
        np.testing.assert_array_equal(rs[0].mask, expected)
    assert not rs.can_redo
