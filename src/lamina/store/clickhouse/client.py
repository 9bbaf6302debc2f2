"""The small seam the ClickHouse store talks through, and its two sides.

``HttpClient`` is production: ``clickhouse-connect`` over HTTP to a ClickHouse
server or cluster (``clickhouse://USER:PASS@HOST:8123/DB``). ``ChdbClient`` runs
the very same SQL on ClickHouse's engine in this process (the ``chdb`` package)
with its data in a directory (``chdb:///PATH``): one machine without a server,
and the way the tests run the store. The store sees only :class:`Client`:

- ``use(database)`` picks the database every later statement works in;
- ``execute(sql, params)`` runs a statement;
- ``query(sql, params)`` returns an Arrow table;
- ``insert_arrow(table, data)`` appends an Arrow table's columns.

Parameters are ClickHouse's own ``{name:Type}`` placeholders, bound by the
server (never formatted into the SQL). Values are ``str``, ``int``, ``float``,
``None`` or lists and tuples of those.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from lamina.errors import ConfigError

if TYPE_CHECKING:  # parsing --store must not cost the CLI pyarrow's import
    import pyarrow as pa

Params = Mapping[str, Any]

# Every insert: a batch whose spans cover many weeks (an import of old data)
# must not fail for touching many partitions.
INSERT_SETTINGS = {"throw_on_max_partitions_per_insert_block": 0, "async_insert": 0}


class ClientError(Exception):
    """The engine refused a statement or could not be reached."""


class Client(Protocol):
    def use(self, database: str) -> None:
        """Make ``database`` the default for every later statement."""

    def execute(self, sql: str, params: Params | None = None) -> None: ...

    def query(self, sql: str, params: Params | None = None) -> pa.Table: ...

    def insert_arrow(self, table: str, data: pa.Table) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StoreAddress:
    """Where the store lives, parsed from ``--store``."""

    kind: str  # "duckdb", "clickhouse" or "chdb"
    host: str = ""
    port: int = 0
    secure: bool = False
    username: str = "default"
    password: str = ""
    database: str = "lamina"
    path: Path | None = None

    def describe(self) -> str:
        """For banners and logs: never the password."""
        if self.kind == "chdb":
            suffix = "" if self.database == "lamina" else f"?database={self.database}"
            return f"chdb://{self.path}{suffix}"
        if self.kind == "clickhouse":
            scheme = "clickhouses" if self.secure else "clickhouse"
            return f"{scheme}://{self.username}@{self.host}:{self.port}/{self.database}"
        return "duckdb"


_DATABASE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_store(text: str) -> StoreAddress:
    """``--store``: empty (the DuckDB file), ``clickhouse[s]://...`` or ``chdb:///PATH``."""
    text = text.strip()
    if not text or text == "duckdb":
        return StoreAddress("duckdb")
    parts = urlsplit(text)
    if parts.scheme == "chdb":
        # chDB runs one engine per process, on one directory: stores that must live
        # side by side in one process (tests) use databases in it (?database=NAME).
        path = unquote((parts.netloc or "") + parts.path)
        if not path:
            raise ConfigError(f"--store {text!r} names no directory: use chdb:///PATH.")
        database = parse_qs(parts.query).get("database", ["lamina"])[-1]
        if not _DATABASE.match(database):
            raise ConfigError(f"The chDB database name {database!r} is not a plain name.")
        return StoreAddress("chdb", path=Path(path), database=database)
    if parts.scheme in ("clickhouse", "clickhouses"):
        secure = parts.scheme == "clickhouses"
        database = parts.path.strip("/") or "lamina"
        if not parts.hostname:
            raise ConfigError(
                f"--store {_hide(text)!r} names no host: use clickhouse://USER:PASS@HOST:8123/DB."
            )
        if not _DATABASE.match(database):
            raise ConfigError(f"The ClickHouse database name {database!r} is not a plain name.")
        try:
            port = parts.port or (8443 if secure else 8123)
        except ValueError:
            raise ConfigError(f"--store {_hide(text)!r} has a port that is not a number.") from None
        return StoreAddress(
            "clickhouse",
            host=parts.hostname,
            port=port,
            secure=secure,
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database=database,
        )
    raise ConfigError(
        f"--store {_hide(text)!r} is not a store Lamina knows: leave it empty for the DuckDB "
        "file in the data dir, or use clickhouse://USER:PASS@HOST:8123/DB or chdb:///PATH."
    )


def _hide(text: str) -> str:
    parts = urlsplit(text)
    if parts.password:
        return text.replace(f":{parts.password}@", ":***@", 1)
    return text


def connect(address: StoreAddress) -> Client:
    if address.kind == "chdb":
        assert address.path is not None
        return ChdbClient(address.path)
    if address.kind == "clickhouse":
        return HttpClient(address)
    raise ValueError(f"not a ClickHouse address: {address.kind}")


# -- production: clickhouse-connect over HTTP -------------------------------------------------


class HttpClient:
    """clickhouse-connect's HTTP client; thread-safe (no HTTP session state)."""

    def __init__(self, address: StoreAddress) -> None:
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import ClickHouseError

        self._errors: tuple[type[BaseException], ...] = (ClickHouseError, OSError)
        try:
            # Created without a database: the store creates it first.
            self._client = clickhouse_connect.get_client(
                host=address.host,
                port=address.port,
                username=address.username,
                password=address.password,
                secure=address.secure,
                autogenerate_session_id=False,
                form_encode_query_params=True,  # long key lists go in the body, not the URL
                compress="lz4",
                query_limit=0,
                connect_timeout=10,
                send_receive_timeout=120,
            )
        except self._errors as exc:
            raise ConfigError(
                f"Cannot reach ClickHouse at {address.describe()}: {_first_line(exc)}"
            ) from None

    def use(self, database: str) -> None:
        self._client.database = database

    def execute(self, sql: str, params: Params | None = None) -> None:
        # Not command(): it sends parameters in the URL, and the session refresh of a
        # large batch binds more keys than ClickHouse takes in a URL (1 MiB). A raw
        # query sends the statement and its parameters as form fields in the body.
        try:
            self._client.raw_query(sql, parameters=_plain(params))
        except self._errors as exc:
            raise ClientError(_first_line(exc)) from exc

    def query(self, sql: str, params: Params | None = None) -> pa.Table:
        try:
            table: pa.Table = self._client.query_arrow(
                sql, parameters=_plain(params), use_strings=True
            )
        except self._errors as exc:
            raise ClientError(_first_line(exc)) from exc
        return table

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        try:
            self._client.insert_arrow(table, data, settings=INSERT_SETTINGS)
        except self._errors as exc:
            raise ClientError(_first_line(exc)) from exc

    def close(self) -> None:
        self._client.close()


def _plain(params: Params | None) -> dict[str, Any] | None:
    return None if params is None else dict(params)


# -- in-process: chDB -----------------------------------------------------------------------


class ChdbClient:
    """ClickHouse's engine in this process, its data in ``path``.

    One chDB session per directory and process: opening the same directory twice
    in one process shares the session (the engine locks its directory). Each client
    remembers its own database; the shared session is switched to it before each
    statement, so clients on different databases of one directory never mix.
    """

    _open: ClassVar[dict[Path, tuple[Any, int]]] = {}
    # The database each shared session is on, as far as the clients know.
    _current: ClassVar[dict[Path, str]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()
    # Every call into the engine holds this. chDB serialises queries on its own lock,
    # which a thread waits for holding the GIL, while an insert reading a Python
    # object (Python(frame)) needs the GIL inside the engine: without this lock, a
    # reader and the writer deadlock. Two threads' Python(frame) could also find
    # each other's variable.
    _engine_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path) -> None:
        try:
            from chdb import session
        except ImportError:
            raise ConfigError(
                "--store chdb:///PATH needs the chdb package: pip install 'lamina[chdb]'."
            ) from None
        path.mkdir(parents=True, exist_ok=True)
        self._path = path.resolve()
        with self._lock:
            held = self._open.get(self._path)
            if held is None:
                try:
                    opened = session.Session(str(self._path))  # type: ignore[no-untyped-call]
                except Exception as exc:  # chdb raises plain RuntimeErrors
                    raise ConfigError(
                        f"Cannot open the chDB store in {path}: {_first_line(exc)}"
                    ) from None
                held = (opened, 0)
            self._session = held[0]
            self._open[self._path] = (held[0], held[1] + 1)
        self._closed = False
        self._database = ""

    def use(self, database: str) -> None:
        self._run(f"USE {database}", "CSV", None)
        self._database = database

    def _run(self, sql: str, fmt: str, params: Params | None) -> Any:
        if self._closed:
            raise ClientError("the store is closed")
        try:
            with self._engine_lock:
                if self._database and self._current.get(self._path) != self._database:
                    self._session.query(f"USE {self._database}", "CSV")
                    self._current[self._path] = self._database
                try:
                    result = self._session.query(sql, fmt, params=_chdb_params(params))
                except Exception:
                    if fmt == "ArrowTable":
                        # chDB leaves the answer of an Arrow query it stopped (a time limit,
                        # the SQL console's) for the next Arrow query to read as its own
                        # ("Unexpected empty message in IPC file format"): read it away.
                        with contextlib.suppress(Exception):
                            self._session.query("SELECT 1", "CSV")
                    raise
                if sql.startswith("USE "):
                    self._current[self._path] = sql[4:].strip()
                return result
        except Exception as exc:  # chdb raises plain RuntimeErrors
            raise ClientError(_first_line(exc)) from exc

    @contextmanager
    def engine(self) -> Iterator[Any]:
        """The chDB session itself, held alone (a test's ClickHouse HTTP server runs
        requests on it); whatever database it is left on, clients switch back."""
        if self._closed:
            raise ClientError("the store is closed")
        with self._engine_lock:
            self._current.pop(self._path, None)
            try:
                yield self._session
            finally:
                self._current.pop(self._path, None)

    def execute(self, sql: str, params: Params | None = None) -> None:
        self._run(sql, "CSV", params)

    def query(self, sql: str, params: Params | None = None) -> pa.Table:
        table: pa.Table = self._run(sql, "ArrowTable", params)
        return table

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        names = ", ".join(data.column_names)
        settings = ", ".join(f"{k} = {v}" for k, v in INSERT_SETTINGS.items())
        frame = data  # chDB's Python() table function finds the table by this name
        self._run(
            f"INSERT INTO {table} ({names}) SETTINGS {settings} SELECT {names} FROM Python(frame)",
            "CSV",
            None,
        )
        del frame

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            opened, count = self._open[self._path]
            if count > 1:
                self._open[self._path] = (opened, count - 1)
                return
            del self._open[self._path]
            self._current.pop(self._path, None)
        with self._engine_lock:
            opened.close()


def _chdb_params(params: Params | None) -> dict[str, str] | None:
    """Parameters as ClickHouse reads them from text (what HTTP ``param_*`` carry)."""
    if not params:
        return None
    return {name: _param_text(value, top=True) for name, value in params.items()}


def _param_text(value: Any, top: bool = False) -> str:
    if value is None:
        return "\\N" if top else "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        if top:
            return escaped
        return "'" + escaped.replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ",".join(_param_text(item) for item in value) + "]"
    if isinstance(value, tuple):
        return "(" + ",".join(_param_text(item) for item in value) + ")"
    raise TypeError(f"cannot bind {type(value).__name__}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__: Sequence[str] = (
    "ChdbClient",
    "Client",
    "ClientError",
    "HttpClient",
    "StoreAddress",
    "connect",
    "parse_store",
)
