"""Typed exceptions for every user-facing failure.

Each class subclasses :class:`TextDifuseError` and, where it fits, a builtin
(``OSError``, ``ValueError``...) so that generic handlers still work.  Messages
name the file (``path``) and the reason and, where possible, what to do
(``hint``).  The CLI maps them to exit codes (:attr:`exit_code`) and one line
of text; the GUI shows them in a dialog.

Exit codes: 2 invalid arguments (argparse and :class:`UsageError`),
3 unreadable input, 4 geometry (including sources of different patients),
5 write, 6 model weights, 7 optional feature off, 8 device, 9 session,
10 network (PACS / DICOMweb), 130 cancelled; 1 only for an unclassified
:class:`TextDifuseError`.
"""

from __future__ import annotations

import os
from pathlib import Path


class TextDifuseError(Exception):
    """Base class of all errors raised on purpose by textdifuse_desktop.

    Parameters
    ----------
    message:
        What went wrong, in one sentence.
    path:
        The file or folder concerned, if any; it is prefixed to the message.
    hint:
        What the user can do about it; appended to the message.
    """

    exit_code = 1

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None, hint: str | None = None):
        self.reason = message
        self.path = Path(path) if path is not None else None
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        text = f'"{self.path}": {self.reason}' if self.path is not None else self.reason
        if self.hint:
            text += f" ({self.hint})"
        return text

    def __str__(self) -> str:  # OSError overrides __str__; keep ours
        return self._format()


class ReadError(TextDifuseError, OSError):
    """A file exists but cannot be read: corrupt, truncated, missing pixel data."""

    exit_code = 3


class UnsupportedFormatError(ReadError, ValueError):
    """No reader understands the file; the message lists the readers tried."""


class ImageDataError(TextDifuseError, ValueError):
    """Pixel data that cannot be used: NaNs only, empty, wrong dimensionality, too large."""

    exit_code = 3


class GeometryError(TextDifuseError, ValueError):
    """Images whose geometry does not fit: no spatial overlap, inconsistent slice spacing."""

    exit_code = 4


class RegistrationError(GeometryError):
    """Rigid registration failed to converge or produced an implausible transform."""


class WriteError(TextDifuseError, OSError):
    """An output could not be written."""

    exit_code = 5


class OverwriteInputError(WriteError):
    """The output path is one of the inputs; inputs are never overwritten."""


class ModelLoadError(TextDifuseError, RuntimeError):
    """Model weights are missing or incompatible with the code."""

    exit_code = 6


class WeightsIntegrityError(ModelLoadError):
    """The weights file's sha256 differs from the model card's."""


class FeatureUnavailableError(TextDifuseError, RuntimeError):
    """An optional feature is off: a package or a user-provided file is missing."""

    exit_code = 7


class DeviceError(TextDifuseError, RuntimeError):
    """The requested compute device is unavailable or ran out of memory."""

    exit_code = 8


class FusionCancelled(TextDifuseError):
    """The user cancelled a running fusion."""

    exit_code = 130


class SessionError(TextDifuseError, ValueError):
    """A session file is unreadable or refers to missing sources."""

    exit_code = 9


class NetworkError(TextDifuseError, OSError):
    """A PACS or DICOMweb server could not be reached or answered with an error or with something not DICOM."""

    exit_code = 10


class AssociationRejectedError(NetworkError):
    """The PACS refused the DICOM association (often a wrong called or calling AE title)."""


class RemoteStatusError(NetworkError):
    """The server answered a request with a failure status; the message names the instance and the code."""


class TransferCancelled(FusionCancelled):
    """The user cancelled a network query, retrieve or send (the association was aborted)."""


class UsageError(TextDifuseError, ValueError):
    """An invalid command-line argument value (the same family as argparse's own usage errors)."""

    exit_code = 2
