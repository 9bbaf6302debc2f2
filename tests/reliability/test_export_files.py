"""Export and import files are written and read safely: a cut-short export is detected
and refused (unless asked for), nothing planted beside an export is followed, a
Parquet export onto a file and a zip that unpacks to far more than it holds are
refused clearly, and unpacking that runs out of room says so, never a traceback.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import zipfile
from pathlib import Path

import orjson

from tests.conftest import LAMINA, LaminaServer
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_a_cut_short_export_is_refused_unless_asked_for(
    server: LaminaServer, tmp_path: Path
) -> None:
    name, key = otlp.new_project(server, "cut-short")
    send_session(server, key, "s-cut", 3)
    whole = tmp_path / "whole.jsonl"
    done = server.cli("export", "--project", name, "-o", str(whole))
    assert done.returncode == 0, done.stderr
    lines = _lines(whole)
    assert orjson.loads(lines[-1]) == {
        "kind": "trailer",
        "sessions": 1,
        "traces": 3,
        "spans": 6,
        "scores": 0,
        "comments": 0,
        "datasets": 0,
        "dataset_items": 0,
        "experiments": 0,
        "experiment_items": 0,
    }

    cut = tmp_path / "cut.jsonl"  # as a download that broke off after four spans
    cut.write_bytes(b"\n".join(lines[:-3]) + b"\n")
    done = server.cli("import", str(cut), "--project", "cut-copy")
    assert done.returncode == 1
    message = " ".join(done.stderr.split())
    assert "does not end with the trailer line" in message and "--partial" in message
    assert "Traceback" not in done.stderr
    assert "cut-copy" not in {p["name"] for p in otlp.admin(server, "list_projects")}
    done = server.cli("import", str(cut), "--project", "cut-copy", "--partial")
    assert done.returncode == 0, done.stderr
    assert 'Imported 4 spans into project "cut-copy"' in done.stdout

    changed = tmp_path / "changed.jsonl"  # a line lost in the middle, trailer kept
    changed.write_bytes(b"\n".join(lines[:3] + lines[4:]) + b"\n")
    done = server.cli("import", str(changed), "--project", "cut-copy")
    assert done.returncode == 1, done.stderr
    assert "has 11 lines, but its trailer line counts sessions: 1, traces: 3, spans: 6" in (
        " ".join(done.stderr.split())
    )

    done = server.cli("import", str(whole), "--project", "whole-copy")
    assert done.returncode == 0 and "Imported 6 spans" in done.stdout, done.stderr


def test_an_export_never_follows_what_was_planted_beside_it(
    server: LaminaServer, tmp_path: Path
) -> None:
    name, key = otlp.new_project(server, "planted")
    send_session(server, key, "s-planted", 1)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").symlink_to(victim)

    done = server.cli("export", "--project", name, "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == "precious"
    assert target.is_file() and not target.is_symlink()
    assert orjson.loads(_lines(target)[-1])["spans"] == 2
    assert target.stat().st_mode & 0o777 == 0o600  # it holds every prompt
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out.jsonl",
        "out.jsonl.partial",
        "victim.txt",
    ]


def test_a_parquet_export_onto_a_file_is_refused_clearly(
    server: LaminaServer, tmp_path: Path
) -> None:
    existing = tmp_path / "existing.txt"
    existing.write_text("mine")
    done = server.cli("export", "--format", "parquet", "-o", str(existing))
    assert done.returncode == 1
    assert "is a file, and a Parquet export is a directory" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
    assert existing.read_text() == "mine"


def _parquet_zip(path: Path, content: bytes, compression: int) -> None:
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("spans.parquet", content)


def test_a_zip_that_unpacks_to_far_more_than_it_holds_is_refused(
    server: LaminaServer, tmp_path: Path
) -> None:
    bomb = tmp_path / "bomb.parquet.zip"
    _parquet_zip(bomb, b"\0" * (64 * 1024 * 1024), zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 200_000
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run(
        [LAMINA, "import", str(bomb), "--project", "bomb", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(scratch), "COLUMNS": "200"},
    )
    assert done.returncode == 1
    assert "would unpack to 67,108,864 bytes" in " ".join(done.stderr.split()), done.stderr
    assert list(scratch.iterdir()) == []  # nothing was unpacked


def _small_files() -> None:
    """In the child: files may grow to 1 MiB at most, and writing past that is an error
    (EFBIG), as on a temporary directory that is nearly full."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_zip_that_does_not_fit_in_the_temporary_directory_says_so(
    server: LaminaServer, tmp_path: Path
) -> None:
    stored = tmp_path / "stored.parquet.zip"
    _parquet_zip(stored, os.urandom(3 * 1024 * 1024), zipfile.ZIP_STORED)
    done = subprocess.run(
        [LAMINA, "import", str(stored), "--project", "nospace", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "200"},
        preexec_fn=_small_files,
    )
    assert done.returncode == 1
    message = " ".join(done.stderr.split())
    assert "Cannot unpack the spans.parquet" in message and "Set TMPDIR" in message, message
    assert "Traceback" not in done.stderr
