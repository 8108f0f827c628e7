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
STATUS_WAITING_FOR_STOP = "Fusing with {method} as soon as the previous sources' fusion has stopped\u2026"
STATUS_FUSED = "Fused with {method} in {seconds:.2f} s on {device}"
STATUS_CACHED = "Shown from cache: {method} (same parameters as before)"
STATUS_CANCELLED = "Fusion cancelled."
STATUS_PREVIEW = "Classical preview shown; the diffusion result follows\u2026"
CAPTION_PARTIAL = "fusing: {done}/{total} slices"
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

# ----------------------------------------------------------------- regions: proposals and text prompts
PROPOSAL_LABELS = {"hot_objects": "hot objects", "high_uptake": "high uptake"}
STATUS_PROPOSED = "Added {count} region(s) of {label} (favouring source {source})."
STATUS_NOTHING_PROPOSED = "No {label} found in this pair: no region added."
PROPOSAL_GRID_MISMATCH = "The proposals do not fit the regions' grid; reload the pair and try again."
PROMPT_BUTTON = "Find"
PROMPT_BUTTON_BUSY = "Finding\u2026"
PROMPT_NO_CHECKPOINT = "Text prompts are off: no CLIP checkpoint is configured."
PROMPT_CHECKPOINT_MISSING = "Text prompts are off: the CLIP checkpoint {path} does not exist."
PROMPT_ENABLE_HINT = ("type a word of the list, agree to the one-time CLIP download when Find asks, or choose an "
                      "open_clip checkpoint file in File \u25b8 Settings\u2026 (\"CLIP checkpoint\")")
PROMPT_DOWNLOAD_HINT = ("click Find again and choose Download to fetch the CLIP model once, or choose a checkpoint "
                        "file in File \u25b8 Settings\u2026")
PROMPT_NO_OPEN_CLIP = "Text prompts are off: the open_clip package is not installed."
PROMPT_OPEN_CLIP_HINT = "install it with: pip install open_clip_torch"
PROMPT_NEEDS_2D = "Text prompts work on 2D pairs only; for volumes, draw regions or use the proposals."
STATUS_PROMPT_RUNNING = "Finding \u201c{prompt}\u201d with CLIP\u2026"
STATUS_PROMPT_BUSY = "A text prompt is still running; wait for it to finish."
STATUS_PROMPT_WORDS = "Finding \u201c{prompt}\u201d with the word list\u2026"
STATUS_PROMPT_FOUND = "Added {count} region(s) for \u201c{prompt}\u201d ({made})."
STATUS_PROMPT_NOTHING = "Nothing found for \u201c{prompt}\u201d: no region added."

# ----------------------------------------------------------------- one patient per fusion
PATIENTS_TITLE = "Different patients?"
PATIENTS_TITLE_FRAMES = "Different frames of reference?"
PATIENTS_WHAT = "belong to different patients"
PATIENTS_WHAT_FRAMES = "are in different frames of reference (not registered)"
PATIENTS_TEXT = ("Source A and source B {what}.\n\n"
                 "{field} differs:\n  A: {path_a}\n      {field} = {value_a!r}\n  B: {path_b}\n      {field} = {value_b!r}")
PATIENTS_QUESTION = ("Fuse them anyway? The fused image will not carry either patient's identity. "
                     "Cancel keeps both sources open and fuses nothing.")
PATIENTS_PROCEED = "Fuse anyway"
STATUS_PATIENTS_DECLINED = "Fusion not started: the sources belong to different patients."
