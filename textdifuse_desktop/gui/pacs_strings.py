"""User-facing titles and messages of the PACS dialogs (kept beside gui/strings.py, one place to review)."""

from __future__ import annotations

ACTION_OPEN_PACS = "Open from &PACS\u2026"
ACTION_SEND_PACS = "Sen&d to PACS\u2026"
OPEN_TITLE = "Open from PACS"
SEND_TITLE = "Send to PACS"
NODES_TITLE = "PACS nodes"

NO_NODES = "No PACS node yet: press Nodes\u2026 to add one (AE title, host, port, or a DICOMweb URL)."
SEARCHING = "Searching\u2026"
SEARCH_FAILED = "Search failed: {error}"
PICK_SERIES = "Pick a series in the lower table, then Retrieve into A or B."
RETRIEVING = "Retrieving {what}\u2026"
RETRIEVED = "Retrieved {count} instances with {method} in {seconds:.1f} s; shown as {slot}"
CANCELLED = "Cancelled; nothing was kept from the partial retrieve."
SEND_CANCELLED = "Cancelled; the exported files are kept in {folder}."
TESTING = "Testing the connection\u2026"
TEST_FAILED = "Failed: {error}"
SENT = "Sent {count} instances to {node}; the exported files are kept in {folder}."
SEND_FAILED = "{failed} of {count} instances failed; the exported files are kept in {folder}."
EXPORTING = "Exporting the fused result\u2026"
NOTHING_TO_SEND = "Nothing to send: run a fusion first (or draw regions for a DICOM SEG)."

KIND_DERIVED = "Fused result as DICOM (derived series; Secondary Capture when in colour)"
KIND_SEG = "Regions as DICOM SEG (with the images they reference when those are not DICOM)"

METHOD_LABELS = {"get": "C-GET", "move": "C-MOVE", "wado": "WADO-RS"}
STUDY_HEADERS = ("Patient name", "Patient ID", "Study date", "Description", "Accession", "Modalities",
                 "Series", "Instances", "Study UID")
SERIES_HEADERS = ("Modality", "Number", "Description", "Instances", "Series UID")
SEND_HEADERS = ("File", "SOP Instance UID", "Status")
