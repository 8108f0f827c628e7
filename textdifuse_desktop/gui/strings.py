"""Every user-facing title and message of the desktop app (one place to review and translate)."""

from __future__ import annotations

APP_NAME = "TextDiFuse Desktop"
ORG_NAME = "TextDiFuse"

PANE_TITLES = {"a": "Source A", "b": "Source B", "fused": "Fused"}
EMPTY_PANE_HINT = (
    "Drop an image, DICOM folder, NIfTI file or video here\nor use File \u25b8 Open source {slot}\u2026\n\n"
    "New here? Help \u25b8 Open demo"
)
EMPTY_FUSED_HINT = "The fused result appears here.\nOpen two sources, then press Run fusion (Ctrl+R)."

# ----------------------------------------------------------------- menus
MENU_FILE = "&File"
MENU_VIEW = "&View"
MENU_FUSION = "F&usion"
MENU_HELP = "&Help"
ACTION_OPEN_A = "Open source &A\u2026"
ACTION_OPEN_B = "Open source &B\u2026"
ACTION_OPEN_A_FOLDER = "Open DICOM folder as A\u2026"
ACTION_OPEN_B_FOLDER = "Open DICOM folder as B\u2026"
ACTION_OPEN_PAIR = "Open &pair\u2026"
ACTION_RECENT = "Open &recent"
ACTION_RECENT_EMPTY = "(no recent files)"
ACTION_OPEN_SESSION = "Open sess&ion\u2026"
ACTION_SAVE_SESSION = "Sa&ve session as\u2026"
ACTION_EXPORT = "&Export fused result\u2026"
ACTION_SCREENSHOT = "Save &screenshot\u2026"
ACTION_QUIT = "&Quit"
ACTION_LINK = "&Link views"
ACTION_CROSSHAIR = "Show &crosshair"
ACTION_RESET_VIEW = "&Reset zoom"
ACTION_LAYOUT_SIDE = "Side by side"
ACTION_LAYOUT_STACKED = "A and B stacked, fused large"
ACTION_LAYOUT_OVERLAY = "Overlay on A"
ACTION_RUN = "&Run fusion"
ACTION_CANCEL = "&Cancel fusion"
ACTION_DEMO_IRVIS = "Open demo: &infrared + visible"
ACTION_DEMO_MRIPET = "Open demo: &MRI + PET"
ACTION_ABOUT = "&About TextDiFuse Desktop"
ACTION_SETTINGS = "&Settings\u2026"

# ----------------------------------------------------------------- docks
DOCK_FUSION = "Fusion"
DOCK_DISPLAY = "Display"
DOCK_REGIONS = "Regions"
DOCK_INFO = "Sources"

# ----------------------------------------------------------------- dialogs
FILE_FILTER = (
    "Images and volumes (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.dcm *.nii *.nii.gz *.mp4 *.avi *.mov *.mkv);;"
    "All files (*)"
)
ERROR_TITLE = "TextDiFuse Desktop \u2013 error"
ERROR_LOG_NOTE = "Details were written to the log file:\n{log}"
UNEXPECTED_ERROR = "An unexpected error occurred: {error}\nThe app keeps running; please report the log file."
NEED_TWO_SOURCES = "Open two sources first (File \u25b8 Open source A / B, drag and drop, or Help \u25b8 Open demo)."
NOTHING_TO_EXPORT = "Nothing to export yet: run a fusion first (Fusion \u25b8 Run)."

# ----------------------------------------------------------------- status bar
STATUS_READY = "Ready. Open two sources or try Help \u25b8 Open demo."
STATUS_LOADED = "Loaded {slot}: {name} ({desc})"
STATUS_FUSING = "Fusing with {method}\u2026"
STATUS_FUSED = "Fused with {method} in {seconds:.2f} s on {device}"
STATUS_CACHED = "Shown from cache: {method} (same parameters as before)"
STATUS_CANCELLED = "Fusion cancelled."
STATUS_PREVIEW = "Classical preview shown; the diffusion result follows\u2026"
STATUS_EXPORTED = "Exported {count} file(s) to {path}"
STATUS_SCREENSHOT = "Screenshot saved to {path}"

# ----------------------------------------------------------------- fusion panel
METHOD_LABELS = {
    "textdifuse": "Diffusion model (Text-DiFuse)",
    "laplacian": "Classical: Laplacian pyramid",
    "guided": "Classical: guided filter",
    "max": "Classical: maximum",
    "mean": "Classical: mean",
}
RULE_LABELS = {
    "fcm": "FCM (learned gates)",
    "max": "Max",
    "add": "Add",
    "mean": "Mean",
    "variance": "Variance",
}
DEVICE_LABELS = {"auto": "Automatic", "cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple MPS"}

# ----------------------------------------------------------------- export
EXPORT_TITLE = "Export"
EXPORT_FORMATS = {
    "png": "PNG (8-bit, as displayed)",
    "tiff": "TIFF (16-bit)",
    "nifti": "NIfTI (.nii.gz)",
    "dicom": "DICOM (derived series / Secondary Capture)",
    "seg": "DICOM SEG (regions)",
    "mp4": "MP4 video (fused frames)",
}
EXPORT_SUFFIX = {"png": ".png", "tiff": ".tiff", "nifti": ".nii.gz", "dicom": "", "seg": ".dcm", "mp4": ".mp4"}
EXPORT_DEIDENTIFY = "De-identify (remove patient name, ID, dates)"
EXPORT_NO_REGIONS = "There are no regions to export; draw some in the Regions panel first."
EXPORT_NO_VIDEO = "MP4 export needs a video pair."

ABOUT_TEXT = (
    "<h3>TextDiFuse Desktop {version}</h3>"
    "<p>Multi-modal image fusion (MRI with PET, SPECT or CT; infrared with visible) with a compact "
    "re-implementation of <i>Text-DiFuse</i> (NeurIPS 2024).</p>"
)
ABOUT_NO_CARD = "The model card was not found at {path}; the diffusion model may be missing."
