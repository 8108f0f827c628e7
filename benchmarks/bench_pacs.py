"""PACS throughput against a local Orthanc (issue 17).

Usage::

    .venv/bin/python benchmarks/bench_pacs.py                  # 200 instances of 256x256, 3 repeats
    .venv/bin/python benchmarks/bench_pacs.py --count 200 --size 512 --repeats 5 --no-gui

Starts Orthanc (Debian packages ``orthanc`` + ``orthanc-dicomweb``) on free
loopback ports with a temporary storage folder, uploads one series of
``--count`` CT instances (REST), then for C-GET, C-MOVE and WADO-RS prints,
as the median of ``--repeats`` runs of ``net.service.retrieve_series``
(instance list query + transfer + verification):

* instances per second of the whole retrieve;
* seconds from "Retrieve" to the first instance on disk, and to that
  instance decoded by the app's reader (``io.read_image`` on the file);
* seconds to the whole series verified in the cache.

Unless ``--no-gui``, it also builds the real window offscreen
(``create_main_window``), presses "Retrieve into A" in File > Open from PACS
and prints the seconds until the series is shown in pane A (the app opens a
series once it is complete and verified).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "net"))

from orthanc_server import ORTHANC_AET, OUR_AET, Orthanc, write_series


def _one(node, series: dict, method: str, cache: Path) -> dict[str, float]:
    from textdifuse_desktop.io import read_image
    from textdifuse_desktop.net import service

    start = time.perf_counter()
    first = decoded = 0.0
    gen = service.retrieve_series(node, series["study"], series["series"], method=method, cache_root=cache)
    try:
        while True:
            progress = next(gen)
            if progress.done >= 1 and not first:
                first = time.perf_counter() - start
                part = next(p for p in cache.glob("retrieved/.*.part/*.dcm"))
                read_image(part)
                decoded = time.perf_counter() - start
    except StopIteration as stop:
        result = stop.value
    total = time.perf_counter() - start
    return {"rate": result.count / total, "first": first, "decoded": decoded, "total": total,
            "count": result.count}


def _gui_time(node, series: dict) -> float:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    from textdifuse_desktop.config import AppSettings
    from textdifuse_desktop.gui.app import create_app, create_main_window
    from textdifuse_desktop.gui.pacs_dialog import PacsDialog
    from textdifuse_desktop.gui.pacs_widgets import ROW_ROLE, fill_table
    from textdifuse_desktop.net.nodes import save_nodes
    from textdifuse_desktop.net.query import SERIES_FIELDS

    app = create_app()
    save_nodes([node])
    window = create_main_window(settings=AppSettings())
    window.interactive = False
    window.show()
    dialog = PacsDialog(window)
    row = {"StudyInstanceUID": series["study"], "SeriesInstanceUID": series["series"], "Modality": "CT"}
    fill_table(dialog.series, ("Modality", "Number", "Description", "Instances"), SERIES_FIELDS[:-1], [row])
    dialog.series.selectRow(0)
    assert dialog.series.item(0, 0).data(ROW_ROLE)["SeriesInstanceUID"] == series["series"]
    dialog.retrieve_a.click()
    deadline = time.monotonic() + 300
    while "shown" not in dialog.timings and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.002)
    shown = dialog.timings.get("shown", float("nan"))
    dialog.close()
    window.close()
    QtWidgets.QApplication.processEvents()
    return shown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-gui", action="store_true")
    args = parser.parse_args()
    from textdifuse_desktop.net.nodes import PacsNode

    with tempfile.TemporaryDirectory(prefix="bench-pacs-") as tmp:
        work = Path(tmp)
        os.environ["TEXTDIFUSE_CONFIG_DIR"] = str(work / "config")
        os.environ["TEXTDIFUSE_CACHE_DIR"] = str(work / "cache")
        server = Orthanc(work).start()
        try:
            series = write_series(work / "series", count=args.count, shape=(args.size, args.size))
            start = time.perf_counter()
            server.upload(series["paths"])
            upload = time.perf_counter() - start
            mb = sum(p.stat().st_size for p in series["paths"]) / 1e6
            print(f"Orthanc {server.url}; {args.count} CT instances {args.size}x{args.size} ({mb:.1f} MB), "
                  f"REST upload {args.count / upload:.0f} inst/s; cpu count {os.cpu_count()}, "
                  f"load {os.getloadavg()[0]:.2f}")
            dimse = PacsNode("bench", ae_title=ORTHANC_AET, host="127.0.0.1", port=server.dicom_port,
                             calling_ae=OUR_AET, move_port=server.move_port, listen_host="127.0.0.1").validated()
            web = PacsNode("bench-web", protocol="dicomweb", url=server.dicomweb_url).validated()
            print(f"{'method':8} {'inst/s':>8} {'first on disk s':>16} {'first decoded s':>16} {'all verified s':>15}")
            for method, node in (("get", dimse), ("move", dimse), ("wado", web)):
                runs = [_one(node, series, method, work / "cache" / f"{method}{i}") for i in range(args.repeats)]
                med = {k: statistics.median(r[k] for r in runs) for k in ("rate", "first", "decoded", "total")}
                assert all(r["count"] == args.count for r in runs)
                print(f"{method:8} {med['rate']:8.1f} {med['first']:16.3f} {med['decoded']:16.3f} {med['total']:15.2f}")
            if not args.no_gui:
                for label, node in (("C-GET", dimse), ("WADO-RS", web)):
                    print(f"GUI (offscreen) Retrieve into A -> series shown, {label}: {_gui_time(node, series):.2f} s")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
