"""Start-up benchmark: ``revenge serve`` on an existing data dir answers ``/health/ready``.

A first run creates the data dir (initdb, migrations) and is stopped; then each restart is
timed from process spawn to the first 200 from ``/health/ready`` (polled every 20 ms) and
stopped cleanly with SIGINT. The embedded PostgreSQL is used (no ``REVENGE_*`` variable is
inherited), and no PostgreSQL may be left running in the data dir afterwards.

Target: ready within 3 s of spawn on an existing data dir.

    ./dev bench startup [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _support import ROOT, figure, median

REVENGE = ROOT / ".venv" / "bin" / "revenge"
TARGET_SECONDS = 3.0
POLL_SECONDS = 0.02
START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(data_dir: Path, port: int) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REVENGE_")}
    environment["REVENGE_DATA_DIR"] = str(data_dir)
    environment["REVENGE_SERVER_PORT"] = str(port)
    return environment


def count(name: str, value: int) -> None:
    print(f"{name} {value} processes", flush=True)


def start_until_ready(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    """Spawn ``revenge serve``; seconds from spawn to the first 200 from /health/ready."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/health/ready"
    with log.open("ab") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(REVENGE), "serve"],
            env=server_environment(data_dir, port),
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=data_dir,
        )
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() - started < START_TIMEOUT_SECONDS:
            try:
                if client.get(url).status_code == 200:
                    return process, time.perf_counter() - started
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                break
            time.sleep(POLL_SECONDS)
    stop(process)
    tail = log.read_text(errors="replace")[-2000:]
    raise SystemExit(f"revenge serve was not ready (exit {process.returncode}):\n{tail}")


def stop(process: subprocess.Popen[bytes]) -> float:
    """SIGINT and wait, as an operator's Ctrl-C; seconds until the process exited."""
    started = time.perf_counter()
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise SystemExit("revenge serve did not stop within 30 s of SIGINT") from None
    return time.perf_counter() - started


def postgres_left(folder: Path) -> list[int]:
    """Processes whose command line names the folder (the embedded server's ``-D``)."""
    found = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def stop_leftover_postgres(folder: Path) -> None:
    """A clean (smart) shutdown of a postmaster this benchmark started, by its pid file."""
    pid_file = folder / "data" / "postgres" / "postmaster.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        deadline = time.perf_counter() + STOP_TIMEOUT_SECONDS
        while postgres_left(folder) and time.perf_counter() < deadline:
            time.sleep(0.1)


def stop_and_check(process: subprocess.Popen[bytes], folder: Path, name: str) -> int:
    """Stop, print how long it took; the processes still running in the folder after it."""
    figure(f"startup.{name}_stop", stop(process), "s")
    return len(postgres_left(folder))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times: list[float] = []
    left_after_stops = 0
    with tempfile.TemporaryDirectory(prefix="revenge-bench-startup-") as name:
        folder = Path(name)
        data_dir = folder / "data"
        data_dir.mkdir()
        log = folder / "serve.log"
        try:
            process, first = start_until_ready(data_dir, log)
            figure("startup.first_run_ready", first, "s")
            # The check below means something only if it sees the server while it runs.
            count("startup.processes_in_folder_while_serving", len(postgres_left(folder)))
            left_after_stops += stop_and_check(process, folder, "first_run")
            for run in range(1, args.runs + 1):
                process, ready = start_until_ready(data_dir, log)
                times.append(ready)
                figure(f"startup.restart_{run}_ready", ready, "s")
                left_after_stops += stop_and_check(process, folder, f"restart_{run}")
        finally:
            time.sleep(0.5)  # let anything still shutting down finish before looking
            left_at_end = postgres_left(folder)
            if left_at_end:
                stop_leftover_postgres(folder)
        count("startup.processes_left_after_stops", left_after_stops)
        count("startup.processes_left_at_end", len(left_at_end))
    met = median(times) <= TARGET_SECONDS
    print(
        f"summary startup runs={len(times)} ready_median={median(times):.3f} s "
        f"min={min(times):.3f} s max={max(times):.3f} s "
        f"(target <= {TARGET_SECONDS:.0f} s: {'met' if met else 'MISSED'}) "
        f"processes_left_at_end={len(left_at_end)} (target 0)"
    )


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
