"""Writers: all atomic, never overwrite an input."""
