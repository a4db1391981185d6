"""Gateway replicas as real processes: `revenge serve` on a port of its own, sharing a
PostgreSQL and a Redis with its siblings; for the multi-replica tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["REVENGE", "Replica", "free_port"]

REVENGE = str(Path(sys.executable).with_name("revenge"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    """`revenge serve` in a session of its own (killing its group kills all it started)."""

    name: str
    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @classmethod
    async def start(
        cls,
        name: str,
        database_url: str,
        redis_url: str,
        data_dir: Path,
        log: Path,
        **environ: str,
    ) -> Replica:
        """Started, not yet ready; ``environ`` adds settings (``REVENGE_…``)."""
        port = free_port()
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                REVENGE,
                "serve",
                "--port",
                str(port),
                env={
                    **{k: v for k, v in os.environ.items() if not k.startswith("REVENGE_")},
                    "REVENGE_DATABASE_URL": database_url,
                    "REVENGE_CACHE_URL": redis_url,
                    "REVENGE_DATA_DIR": str(data_dir),
                    "REVENGE_SERVER_HOST": "127.0.0.1",
                    "REVENGE_LOG_LEVEL": "warning",
                    "REVENGE_PROBE_WORKERS": "1",
                    **environ,
                },
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, process, port, log)

    async def ready(self, client: httpx.AsyncClient, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.process.returncode is not None:
                raise AssertionError(f"replica {self.name} exited:\n{self.output}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{self.url}/health/ready")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"replica {self.name} not ready in {seconds} s:\n{self.output}"
                )
            await asyncio.sleep(0.1)

    async def terminate(self, seconds: float = 15) -> int:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), seconds)

    async def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), 30)
