"""A ClickHouse server for tests: ClickHouse's HTTP interface in front of ClickHouse's
engine running in this process (chDB).

No ClickHouse server can be installed on the machines the tests run on, so the
production path (``clickhouse-connect`` over HTTP) meets this instead. Only the
HTTP layer is stand-in; every statement runs on the real engine:

- ``GET /ping`` and ``GET /`` answer ``Ok.``;
- a statement comes in the ``query`` URL parameter, the body, or both (the
  parameter first, then the body), or as form fields (``multipart/form-data`` or
  URL-encoded) with ``param_NAME`` fields beside it;
- ``database``, ``query_id``, ``default_format`` and the other parameters of the
  HTTP interface are honoured or accepted; every other URL parameter is a setting,
  applied to that statement only (an unknown one is ClickHouse's own error);
- ``param_NAME`` values are bound by the engine (``{NAME:Type}`` placeholders);
- ``INSERT ... FORMAT F`` followed by data in the body is streamed into the engine,
  which parses the data in format ``F`` (Native, Arrow, RowBinary, TSV, ...);
- the output format is the statement's ``FORMAT`` clause, else ``default_format``,
  else TabSeparated, exactly as produced by the engine;
- request bodies may be compressed (``Content-Encoding`` gzip, deflate, lz4, zstd);
  answers are compressed when ``enable_http_compression=1`` and the client accepts
  one of those;
- answers carry ``X-ClickHouse-Summary``, ``-Query-Id``, ``-Format``, ``-Timezone``
  and ``-Server-Display-Name``; errors are ClickHouse's text (``Code: N.
  DB::Exception: ...``) with ``X-ClickHouse-Exception-Code`` and ClickHouse's status
  codes (400 for bad queries, 404 for unknown tables, 401 for a wrong password, 500
  otherwise), and a URL longer than ``http_max_uri_size`` (1 MiB) is 414.

Not served: sessions (``session_id`` is accepted and ignored), progress headers,
external data (file fields of a form), ``client_protocol_version`` (answers are
in protocol 0, as an old server's), ``compress=1`` (ClickHouse's own framing),
and read-only GET: every method may write.

Run one in a test through :class:`FakeClickHouse`, or on its own for a manual
check: ``python -m tests.fakes.clickhouse_http --path DIR --port 8123``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import re
import socketserver
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from lamina.store.clickhouse.client import ChdbClient

VERSION = "26.9.2.1"
MAX_URI_BYTES = 1024 * 1024  # ClickHouse's http_max_uri_size
MAX_HEADER_LINES = 200

# Parameters of the HTTP interface itself; every other URL parameter is a setting.
_HTTP_PARAMS = {
    "query",
    "database",
    "default_format",
    "user",
    "password",
    "quota_key",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "close_session",
    "compress",
    "decompress",
    "buffer_size",
    "wait_end_of_query",
    "role",
    "stacktrace",
    "client_protocol_version",
}

# ClickHouse's HTTP status for some error codes; everything else is 500.
_STATUS = {
    16: 404,  # NO_SUCH_COLUMN_IN_TABLE
    36: 400,  # BAD_ARGUMENTS
    43: 400,  # ILLEGAL_TYPE_OF_ARGUMENT
    46: 404,  # UNKNOWN_FUNCTION
    47: 404,  # UNKNOWN_IDENTIFIER
    53: 400,  # TYPE_MISMATCH
    60: 404,  # UNKNOWN_TABLE
    62: 400,  # SYNTAX_ERROR
    81: 404,  # UNKNOWN_DATABASE
    115: 400,  # UNKNOWN_SETTING
    117: 400,  # INCORRECT_DATA
    194: 401,  # REQUIRED_PASSWORD
    456: 400,  # UNKNOWN_QUERY_PARAMETER
    457: 400,  # BAD_QUERY_PARAMETER
    516: 401,  # AUTHENTICATION_FAILED
}

_CODE = re.compile(r"Code: (\d+)\. (DB::Exception: .*)", re.S)
_VERSION_SUFFIX = re.compile(r"\s*\(version [^)]*\)\s*$")
_INSERT_HEAD = re.compile(
    rb"\A\s*(INSERT\s+INTO\s.*?)\s+FORMAT\s+([A-Za-z0-9_]+)[ \t]*(?:\r?\n)?", re.I | re.S
)
_FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*\Z", re.I)
_RESULT_STATEMENT = re.compile(r"\A\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)\b", re.I)
_SETTING_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


class ClickHouseError(Exception):
    """An error answer: ClickHouse's code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """Answer statements matching ``pattern`` with an error, ``times`` times."""

    pattern: re.Pattern[str]
    code: int
    message: str
    times: int


class FakeClickHouse:
    """A ClickHouse HTTP server on 127.0.0.1 over a chDB directory; a context manager.

    Stores reach it with :meth:`store_url` (``clickhouse://USER:PASS@127.0.0.1:PORT/DB``).
    ``statements`` counts the statements run; :meth:`fail` makes matching ones fail.
    """

    def __init__(
        self, path: Path, *, user: str = "default", password: str = "", port: int = 0
    ) -> None:
        self.path = path
        self.user = user
        self.password = password
        self.statements = 0
        self.log: list[str] = []  # the first line of each statement, newest last (bounded)
        self._faults: list[Fault] = []
        self._faults_lock = threading.Lock()
        self._settings: dict[str, str] = {}  # set on the engine's session now
        self._engine = ChdbClient(path)  # shares the process's chDB session on this directory
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def store_url(self, database: str) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"clickhouse://{auth}@127.0.0.1:{self.port}/{database}"

    def fail(self, pattern: str, code: int = 242, times: int = 1, message: str = "") -> None:
        """The next ``times`` statements matching ``pattern`` (a regex) fail with ``code``."""
        text = message or "Table is in readonly mode (simulated by the test). (TABLE_IS_READ_ONLY)"
        with self._faults_lock:
            self._faults.append(Fault(re.compile(pattern, re.I | re.S), code, text, times))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        self._engine.close()

    def __enter__(self) -> FakeClickHouse:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- one request -------------------------------------------------------------------------------
    def answer(self, request: Request) -> Answer:
        idle = request.path == "/ping" or "query" not in request.params
        if request.path in ("/ping", "/") and request.method in ("GET", "HEAD") and idle:
            return Answer(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
        if request.path != "/":
            missing = ClickHouseError(0, f"DB::Exception: There is no handler {request.path}")
            return _error(404, missing)
        query_id = request.params.get("query_id") or str(uuid.uuid4())
        try:
            self._authenticate(request)
            answer = self._run(request, query_id)
        except ClickHouseError as exc:
            answer = _error(_STATUS.get(exc.code, 500), exc)
        answer.headers["X-ClickHouse-Query-Id"] = query_id
        answer.headers["X-ClickHouse-Timezone"] = "UTC"
        answer.headers["X-ClickHouse-Server-Display-Name"] = "lamina-test-clickhouse"
        return answer

    def _authenticate(self, request: Request) -> None:
        headers = request.headers
        user, password = "default", ""
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                raise ClickHouseError(516, _auth_failed("?")) from None
        elif "x-clickhouse-user" in headers:
            user, password = headers["x-clickhouse-user"], headers.get("x-clickhouse-key", "")
        elif "user" in request.params:
            user, password = request.params["user"], request.params.get("password", "")
        if user != self.user or password != self.password:
            raise ClickHouseError(516, _auth_failed(user))

    def _run(self, request: Request, query_id: str) -> Answer:
        params = dict(request.params)
        body = _decompress(request.body, request.headers.get("content-encoding", ""))
        content_type = request.headers.get("content-type", "")
        form = _form_fields(content_type, body)
        if form is not None:
            params.update(form)
            body = b""
        query = params.get("query", "")
        bound = {name[6:]: value for name, value in params.items() if name.startswith("param_")}
        settings = {
            name: value
            for name, value in params.items()
            if name not in _HTTP_PARAMS and not name.startswith("param_")
        }
        for name in settings:
            if not _SETTING_NAME.match(name):
                message = f"DB::Exception: Unknown setting '{name}'. (UNKNOWN_SETTING)"
                raise ClickHouseError(115, message)
        database = params.get("database", "default")
        if not _SETTING_NAME.match(database):
            message = f"DB::Exception: Database {database} does not exist. (UNKNOWN_DATABASE)"
            raise ClickHouseError(81, message)
        insert: tuple[str, str, bytes] | None = None
        if body:
            whole = (query.encode() + b"\n" + body) if query else body
            head = _INSERT_HEAD.match(whole[:65536])
            if head is not None:
                insert = (head.group(1).decode(), head.group(2).decode(), whole[head.end() :])
                statement = insert[0] + " FORMAT " + insert[1]
            else:
                statement = whole.decode("utf-8", errors="replace")
        else:
            statement = query
        if not statement.strip():
            raise ClickHouseError(62, "DB::Exception: Empty query. (SYNTAX_ERROR)")
        self._count(statement)
        self._check_faults(statement)
        default_format = params.get("default_format") or "TabSeparated"
        started = time.perf_counter_ns()
        with self._engine.engine() as session:
            try:
                session.query(f"USE {database}", "CSV")
                self._apply(session, settings)
                if insert is not None:
                    inserter = session.send_insert(insert[0], insert[1])
                    try:
                        if insert[2]:
                            inserter.append(insert[2])
                        result = inserter.finish()
                    finally:
                        inserter.close()
                    summary = _summary(0, 0, result.rows_written, result.bytes_written, 0, 0)
                    output, fmt = b"", None
                else:
                    result = session.query(statement, default_format, params=bound or None)
                    output = result.bytes() or b""
                    fmt = _output_format(statement, default_format)
                    summary = _summary(
                        result.rows_read(),
                        result.bytes_read(),
                        result.rows_written(),
                        result.bytes_written(),
                        0,
                        len(output),
                    )
            except Exception as exc:  # chdb raises plain RuntimeErrors
                raise _engine_error(exc) from None
        summary["elapsed_ns"] = str(time.perf_counter_ns() - started)
        headers = {"X-ClickHouse-Summary": json.dumps(summary, separators=(",", ":"))}
        if fmt is not None:
            headers["X-ClickHouse-Format"] = fmt
            headers["Content-Type"] = _content_type(fmt)
        else:
            headers["Content-Type"] = "text/plain; charset=UTF-8"
        if settings.get("enable_http_compression") == "1" and output:
            output, encoding = _compress(output, request.headers.get("accept-encoding", ""))
            if encoding:
                headers["Content-Encoding"] = encoding
        return Answer(200, output, headers)

    def _apply(self, session: Any, settings: dict[str, str]) -> None:
        """Make the session's settings this request's: a setting applies to its request
        only. Settings stay set between requests that send the same ones (every request
        of one client does), which saves two statements per setting and request."""
        for name in [name for name in self._settings if name not in settings]:
            session.query(f"SET {name} = DEFAULT", "CSV")
            del self._settings[name]
        for name, value in settings.items():
            if self._settings.get(name) != value:
                self._settings.pop(name, None)
                session.query(f"SET {name} = {_string(value)}", "CSV")
                self._settings[name] = value

    def _count(self, statement: str) -> None:
        with self._faults_lock:
            self.statements += 1
            self.log.append(statement.strip().splitlines()[0][:200])
            del self.log[:-500]

    def _check_faults(self, statement: str) -> None:
        with self._faults_lock:
            for fault in self._faults:
                if fault.times > 0 and fault.pattern.search(statement):
                    fault.times -= 1
                    raise ClickHouseError(fault.code, "DB::Exception: " + fault.message)


# -- HTTP/1.1 on a socket ------------------------------------------------------------------------


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class _Handler(socketserver.StreamRequestHandler):
    fake: FakeClickHouse
    disable_nagle_algorithm = True

    def handle(self) -> None:
        try:
            while self._one_request():
                pass
        except (ConnectionError, TimeoutError):
            pass

    def _one_request(self) -> bool:
        line = self.rfile.readline(MAX_URI_BYTES + 64)
        if not line:
            return False
        if not line.endswith(b"\n"):
            self._send(Answer(414, b"URI Too Long\n"), keep_alive=False)
            return False
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            self._send(Answer(400, b"Bad request line\n"), keep_alive=False)
            return False
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            header = self.rfile.readline(65536).decode("latin-1").strip()
            if not header:
                break
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(headers.get("content-length") or 0))
        parts = urlsplit(target)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        request = Request(method.upper(), parts.path or "/", params, headers, body)
        answer = self.fake.answer(request)
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        self._send(answer, keep_alive, head=request.method == "HEAD")
        return keep_alive

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65536).strip():  # trailers
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _send(self, answer: Answer, keep_alive: bool, head: bool = False) -> None:
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}.get(
            answer.status, "Error"
        )
        lines = [f"HTTP/1.1 {answer.status} {reason}"]
        headers = {
            **answer.headers,
            "Content-Length": str(len(answer.body)),
            "Connection": "Keep-Alive" if keep_alive else "Close",
        }
        if keep_alive:
            headers["Keep-Alive"] = "timeout=10"
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        # One write: headers and body in separate segments would wait for the
        # client's delayed ACK (Nagle), ~40 ms an answer.
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(data if head else data + answer.body)
        self.wfile.flush()


# -- helpers -----------------------------------------------------------------------------------


def _form_fields(content_type: str, body: bytes) -> dict[str, str] | None:
    """The fields of a form body; None when the body is not a form."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    if kind != "multipart/form-data":
        return None
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename() is not None:
            message = "DB::Exception: the test server takes no external data. (NOT_IMPLEMENTED)"
            raise ClickHouseError(48, message)
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = payload.decode() if isinstance(payload, bytes) else str(payload)
    return fields


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if not body or encoding in ("", "identity"):
        return body
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "lz4":
            import lz4.frame

            return bytes(lz4.frame.decompress(body))
        if encoding == "zstd":
            from backports import zstd

            return bytes(zstd.decompress(body))
    except Exception as exc:
        raise ClickHouseError(
            432, f"DB::Exception: Cannot decompress the request body ({exc}). (UNKNOWN_CODEC)"
        ) from None
    raise ClickHouseError(
        432, f"DB::Exception: Unknown HTTP compression method {encoding!r}. (UNKNOWN_CODEC)"
    )


def _compress(output: bytes, accepted: str) -> tuple[bytes, str]:
    offered = [item.split(";")[0].strip().lower() for item in accepted.split(",")]
    for encoding in offered:
        if encoding == "gzip":
            return gzip.compress(output), "gzip"
        if encoding == "deflate":
            return zlib.compress(output), "deflate"
        if encoding == "lz4":
            import lz4.frame

            return bytes(lz4.frame.compress(output)), "lz4"
        if encoding == "zstd":
            from backports import zstd

            return bytes(zstd.compress(output)), "zstd"
    return output, ""


def _string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _output_format(statement: str, default: str) -> str | None:
    stripped = statement.strip()
    clause = _FORMAT_CLAUSE.search(stripped)
    if clause is not None:
        return clause.group(1)
    return default if _RESULT_STATEMENT.match(stripped) else None


def _content_type(fmt: str) -> str:
    lowered = fmt.lower()
    if lowered.startswith("tabseparated") or lowered.startswith("tsv"):
        return "text/tab-separated-values; charset=UTF-8"
    if lowered.startswith("csv"):
        return "text/csv; charset=UTF-8; header=absent"
    if lowered.startswith("json"):
        return "application/json; charset=UTF-8"
    return "application/octet-stream"


def _summary(
    read_rows: int, read_bytes: int, written_rows: int, written_bytes: int, total: int, size: int
) -> dict[str, str]:
    return {
        "read_rows": str(read_rows),
        "read_bytes": str(read_bytes),
        "written_rows": str(written_rows),
        "written_bytes": str(written_bytes),
        "total_rows_to_read": str(total),
        "result_rows": str(written_rows),
        "result_bytes": str(size or written_bytes),
    }


def _engine_error(exc: BaseException) -> ClickHouseError:
    text = str(exc)
    match = _CODE.search(text)
    if match is None:
        return ClickHouseError(1001, f"DB::Exception: {text.strip()} (STD_EXCEPTION)")
    return ClickHouseError(int(match.group(1)), _VERSION_SUFFIX.sub("", match.group(2)).strip())


def _auth_failed(user: str) -> str:
    return (
        f"DB::Exception: {user}: Authentication failed: password is incorrect, or there is "
        "no user with such name. (AUTHENTICATION_FAILED)"
    )


def _error(status: int, error: ClickHouseError) -> Answer:
    text = f"Code: {error.code}. {error.message} (version {VERSION})\n"
    return Answer(
        status,
        text.encode(),
        {
            "X-ClickHouse-Exception-Code": str(error.code),
            "Content-Type": "text/plain; charset=UTF-8",
        },
    )


# -- one server per chDB directory for a whole test run -------------------------------------------

_shared: dict[Path, FakeClickHouse] = {}
_shared_lock = threading.Lock()


def shared(path: Path) -> FakeClickHouse:
    """The test run's server over the chDB directory ``path`` (started on first use;
    :func:`close_shared` stops them). Tests keep apart by database names."""
    with _shared_lock:
        fake = _shared.get(path)
        if fake is None:
            fake = _shared[path] = FakeClickHouse(path)
        return fake


def close_shared() -> None:
    with _shared_lock:
        for fake in _shared.values():
            fake.close()
        _shared.clear()


@contextmanager
def running(path: Path, **options: Any) -> Iterator[FakeClickHouse]:
    fake = FakeClickHouse(path, **options)
    try:
        yield fake
    finally:
        fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--path", type=Path, required=True, help="chDB data directory")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    options = parser.parse_args()
    login = {"user": options.user, "password": options.password}
    with running(options.path, port=options.port, **login) as fake:
        print(f"ClickHouse (test server) on http://127.0.0.1:{fake.port}", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
