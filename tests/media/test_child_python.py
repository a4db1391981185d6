"""Children import the installed package, never a ``media.py`` from the server's working folder.

The server is started the way ``revenge serve`` starts: a script outside the working folder (a
console script's folder is first on ``sys.path``, not the working folder), run from a folder that
holds a hostile ``media.py``. It probes through the real probe pool (fork server and workers),
kills a probe worker and probes again, and transcodes through the real transcode child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import av

from media.child_python import child_environment, python_module_command, safe_path_environment
from tests.support.media_files import make_video

HOSTILE = """\
import os, pathlib
pathlib.Path(os.environ["HOSTILE_MARKER"]).write_text(f"media.py ran in {os.getpid()}")
"""

SERVER = textwrap.dedent(
    """\
    import asyncio, json, os, signal, sys

    from media.hls.process import TranscodeJob, TranscodeProcess
    from media.hls.variants import SegmentPlan, Variant
    from media.probe import probe_file
    from media.probe_pool import ProbePool


    def probe_in_worker(path):
        return os.getpid(), probe_file(path).container


    async def main(source, out_dir):
        report = {}
        async with ProbePool(workers=1, timeout_s=60, target=probe_in_worker) as pool:
            first, report["first"] = await pool.probe(source)
            os.kill(first, signal.SIGKILL)
            second, report["after_kill"] = await pool.probe(source)
            report["replaced"] = second != first
        variant = Variant("240p", 320, 240, 300_000, 96_000, "h264", "aac", False, False, "")
        plan = SegmentPlan(starts=(0.0,), durations=(2.0,))
        process = TranscodeProcess(TranscodeJob(source, out_dir, variant, plan))
        await process.start()
        result = await process.wait()
        report["transcode"] = [result.status, result.error_code]
        print(json.dumps(report))


    if __name__ == "__main__":
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def test_children_never_import_a_media_module_from_the_working_folder(tmp_path: Path) -> None:
    working = tmp_path / "working"
    working.mkdir()
    (working / "media.py").write_text(HOSTILE)
    marker = tmp_path / "hostile-ran"
    script = tmp_path / "bin" / "server.py"
    script.parent.mkdir()
    script.write_text(SERVER)
    source = make_video(tmp_path / "movie.mp4", seconds=2.0, width=320, height=240, fps=24)
    out_dir = tmp_path / "segments"
    out_dir.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    environment["HOSTILE_MARKER"] = str(marker)

    finished = subprocess.run(
        [sys.executable, str(script), str(source), str(out_dir)],
        cwd=working,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert finished.returncode == 0, finished.stderr
    assert not marker.exists()
    report = json.loads(finished.stdout.splitlines()[-1])
    assert report == {
        "first": "mp4",
        "after_kill": "mp4",
        "replaced": True,
        "transcode": ["done", None],
    }
    with av.open(str(out_dir / "seg_00000.ts")) as segment:
        frames = list(segment.decode(video=0))
    assert (frames[0].width, frames[0].height) == (320, 240)
    assert len(frames) == 48


def test_a_child_command_runs_python_in_safe_path_mode() -> None:
    command = python_module_command("media.hls.process", "123")

    assert command == [sys.executable, "-P", "-m", "media.hls.process", "123"]
    assert child_environment()["PYTHONSAFEPATH"] == "1"
    assert child_environment()["PYTHONPATH"].split(os.pathsep)[0] == str(
        Path(__file__).resolve().parents[2]
    )


def test_safe_path_environment_is_restored_afterwards() -> None:
    before = os.environ.get("PYTHONSAFEPATH")

    with safe_path_environment():
        inside = os.environ.get("PYTHONSAFEPATH")

    assert inside == "1"
    assert os.environ.get("PYTHONSAFEPATH") == before
