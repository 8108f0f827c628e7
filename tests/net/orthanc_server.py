"""Start a real Orthanc (Debian package + DICOMweb plugin) on loopback ports chosen at run time.

Shared by tests/net (fixture), tests/gui/test_gui_pacs.py and benchmarks/bench_pacs.py.
Also writes small synthetic DICOM series whose patient values must never reach a log.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ORTHANC_AET = "ORTHANC"
OUR_AET = "TEXTDIFUSE"
SECRET_NAME = "SECRET^PATIENT"
SECRET_ID = "PID-SECRET-17"
PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc")


def orthanc_binary() -> str | None:
    """Path of the Orthanc executable, or None."""
    return shutil.which("Orthanc") or next((p for p in ("/usr/sbin/Orthanc",) if Path(p).exists()), None)


def dicomweb_plugin() -> str | None:
    """Path of the DICOMweb plugin library, or None."""
    for folder in PLUGIN_DIRS:
        for path in sorted(Path(folder).glob("libOrthancDicomWeb.so*")) if Path(folder).is_dir() else []:
            return str(path)
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Orthanc:
    """A running Orthanc; ``dicom_port``, ``http_port`` and the C-MOVE destination port it knows."""

    workdir: Path
    dicom_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    move_port: int = field(default_factory=free_port)
    extra_config: dict = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """REST root."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """DICOMweb root."""
        return f"{self.url}/dicom-web"

    def start(self, timeout: float = 30.0) -> Orthanc:
        """Write the configuration, start the server and wait until REST and DICOM answer."""
        binary, plugin = orthanc_binary(), dicomweb_plugin()
        assert binary and plugin, "Orthanc or its DICOMweb plugin is not installed"
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "textdifuse-test", "StorageDirectory": str(storage), "IndexDirectory": str(storage),
            "HttpPort": self.http_port, "DicomPort": self.dicom_port, "DicomAet": ORTHANC_AET,
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "DicomCheckCalledAet": True,
            "DicomModalities": {"textdifuse": [OUR_AET, "127.0.0.1", self.move_port]},
            "DicomAlwaysAllowFind": True, "DicomAlwaysAllowGet": True, "DicomAlwaysAllowMove": True,
            "Plugins": [plugin], "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
            "LimitFindResults": 0, "LimitFindInstances": 0, "StorageCompression": False,
            "HttpCompressionEnabled": False, "SaveJobs": False, "ConcurrentJobs": 2, "DicomThreadsCount": 2,
        }
        config.update(self.extra_config)
        path = self.workdir / "orthanc.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        log = open(self.workdir / "orthanc.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen([binary, str(path)], stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("Orthanc exited at start: " + (self.workdir / "orthanc.log").read_text()[-2000:])
            if self._ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("Orthanc did not become ready in time")

    def _ready(self) -> bool:
        import requests

        try:
            ok = requests.get(f"{self.url}/system", timeout=1).ok
            with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
                pass  # a TLS port accepts the TCP connection too
        except (requests.RequestException, OSError):
            return False
        return ok

    def stop(self) -> None:
        """Terminate the server (kill after 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def upload(self, paths: list[Path]) -> None:
        """POST each file to /instances (the REST way, independent of the code under test)."""
        import requests

        with requests.Session() as session:
            for path in paths:
                response = session.post(f"{self.url}/instances", data=Path(path).read_bytes(), timeout=30)
                response.raise_for_status()

    def instance_file(self, sop_uid: str) -> bytes:
        """The stored file of an instance, looked up by SOP Instance UID (REST)."""
        import requests

        found = requests.post(f"{self.url}/tools/lookup", data=sop_uid, timeout=10).json()
        ids = [item["ID"] for item in found if item["Type"] == "Instance"]
        assert ids, f"instance {sop_uid} is not in Orthanc"
        return requests.get(f"{self.url}/instances/{ids[0]}/file", timeout=10).content


def write_series(folder: Path, *, count: int = 4, shape: tuple[int, int] = (16, 20), modality: str = "CT",
                 study_uid: str | None = None, patient_name: str = SECRET_NAME, patient_id: str = SECRET_ID,
                 study_date: str = "20240315", accession: str = "ACC17", seed: int = 0,
                 frame_uid: str | None = None) -> dict:
    """A CT (or MR) series of ``count`` slices; returns its UIDs and the pixel arrays by SOP UID."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        CTImageStorage,
        ExplicitVRLittleEndian,
        MRImageStorage,
        generate_uid,
    )

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    study_uid = study_uid or generate_uid()
    series_uid, frame_uid = generate_uid(), frame_uid or generate_uid()
    pixels: dict[str, np.ndarray] = {}
    paths = []
    for index in range(count):
        uid = generate_uid()
        stored = rng.integers(0, 2000, shape, dtype=np.uint16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop_class, uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = sop_class, uid, modality
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = patient_name, patient_id, "19700101", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID = study_date, "101010", accession, "1"
        ds.StudyDescription, ds.SeriesDescription, ds.SeriesNumber = "PACS test", f"{modality} test", 1
        ds.ReferringPhysicianName = ""
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * index]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [0.8, 0.8], 2.0
        ds.RescaleSlope, ds.RescaleIntercept = 1.0, -1024.0 if modality == "CT" else 0.0
        ds.Rows, ds.Columns = shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = stored.tobytes()
        path = folder / f"slice_{index:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        pixels[uid] = stored
        paths.append(path)
    return {"study": study_uid, "series": series_uid, "frame": frame_uid, "pixels": pixels, "paths": paths}


def dimse_node(orthanc: dict, **changes):
    """A DIMSE node for the test Orthanc."""
    from textdifuse_desktop.net.nodes import PacsNode

    server = orthanc["server"]
    values = dict(name="orthanc", ae_title=ORTHANC_AET, host="127.0.0.1", port=server.dicom_port,
                  calling_ae=OUR_AET, move_port=server.move_port, listen_host="127.0.0.1", timeout_s=10.0)
    values.update(changes)
    return PacsNode(**values).validated()


def web_node(orthanc: dict, **changes):
    """A DICOMweb node for the test Orthanc."""
    from textdifuse_desktop.net.nodes import PacsNode

    values = dict(name="orthanc-web", protocol="dicomweb", url=orthanc["server"].dicomweb_url, timeout_s=10.0)
    values.update(changes)
    return PacsNode(**values).validated()
