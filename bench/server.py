"""A real `lamina serve` process for benchmarks, on free ports and a given data dir."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

_RUNNING = re.compile(r"Lamina is running: (\S+) ")
_KEY = re.compile(r"API key: (lmn_\S+)")
# A user for timing the pages (created before the server first starts).
EMAIL = "bench@example.com"
PASSWORD = "bench-password-not-secret"


class BenchServer:
    def __init__(self, data_dir: Path, *extra: str) -> None:
        lamina = str(Path(sys.executable).parent / "lamina")
        self.process = subprocess.Popen(
            [
                lamina,
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                "0",
                "--grpc-port",
                "-1",
                "--log-level",
                "warning",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.url = ""
        self.key = ""
        ready = threading.Event()
        lines: list[str] = []

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                lines.append(line)
                if match := _RUNNING.search(line):
                    self.url = match.group(1)
                elif match := _KEY.search(line):
                    self.key = match.group(1)
                elif line.startswith("Data directory:"):
                    ready.set()

        self.lines = lines
        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(60) or not self.key:
            self.process.kill()
            raise RuntimeError("lamina serve did not start:\n" + "".join(lines))
        if "--store" not in extra:  # the embedded store: a user, for timing the pages
            subprocess.run(
                [lamina, "users", "create", EMAIL, "--password-stdin", "--data-dir", str(data_dir)],
                input=PASSWORD + "\n",
                capture_output=True,
                text=True,
                check=True,
            )

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):  # peak resident set size
                return int(line.split()[1]) / 1024
        return float("nan")

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for line in self.lines:
            if " ERROR " in line or "Error" in line:
                print(f"server: {line.rstrip()}", file=sys.stderr)
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)
        self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
