"""Qt-free, torch-free imaging core: the :class:`Image` type and geometry."""

from textdifuse_desktop.imaging.image import Image, Provenance

__all__ = ["Image", "Provenance"]
