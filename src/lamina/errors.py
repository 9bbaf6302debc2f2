"""Every error Lamina reports to a user, with its HTTP status and gRPC code.

::

    LaminaError                       500  INTERNAL
    ├── BadRequest                    400  INVALID_ARGUMENT   a body or parameter we cannot use
    │   └── InvalidCursor             400  INVALID_ARGUMENT   a pagination cursor we did not issue
    ├── Unauthorized                  401  UNAUTHENTICATED    no key, or a key we do not know
    ├── Forbidden                     403  PERMISSION_DENIED  signed in, but not allowed here
    ├── NotFound                      404  NOT_FOUND          no such session, trace, project...
    ├── Conflict                      409  ALREADY_EXISTS     a name that is already taken
    ├── PayloadTooLarge               413  INVALID_ARGUMENT   a request body over the size limit
    ├── UnsupportedMediaType          415  INVALID_ARGUMENT   a content type we do not read
    ├── Overloaded                    429  RESOURCE_EXHAUSTED ingest queue full: retry later
    │   └── StoreUnavailable          503  UNAVAILABLE        the store cannot write (disk full)
    ├── NotSupported                  501  UNIMPLEMENTED      a Laminar feature Lamina does not have
    └── ConfigError                   —    —                  a setting that cannot work (exit 2)

The SDK's one error, ``lamina.LaminaConfigError`` (a ValueError, in
``lamina/sdk/config.py``), is raised by ``Laminar.initialize`` for a setting it
cannot use; the SDK never raises into application code after that.

Each error's message is written for a person who has never read the code: it
says what was wrong and what to do.
"""

from __future__ import annotations

from typing import ClassVar


class LaminaError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    grpc_code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(LaminaError):
    status = 400
    code = "bad_request"
    grpc_code = "INVALID_ARGUMENT"


class InvalidCursor(BadRequest):
    code = "invalid_cursor"


class Unauthorized(LaminaError):
    status = 401
    code = "unauthorized"
    grpc_code = "UNAUTHENTICATED"


class Forbidden(LaminaError):
    status = 403
    code = "forbidden"
    grpc_code = "PERMISSION_DENIED"


class NotFound(LaminaError):
    status = 404
    code = "not_found"
    grpc_code = "NOT_FOUND"


class Conflict(LaminaError):
    status = 409
    code = "conflict"
    grpc_code = "ALREADY_EXISTS"


class PayloadTooLarge(LaminaError):
    status = 413
    code = "payload_too_large"
    grpc_code = "INVALID_ARGUMENT"


class UnsupportedMediaType(LaminaError):
    status = 415
    code = "unsupported_media_type"
    grpc_code = "INVALID_ARGUMENT"


class Overloaded(LaminaError):
    status = 429
    code = "overloaded"
    grpc_code = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreUnavailable(Overloaded):
    status = 503
    code = "store_unavailable"
    grpc_code = "UNAVAILABLE"


class NotSupported(LaminaError):
    """A route of Laminar's API (lamina.web.laminar) for a feature Lamina does not have."""

    status = 501
    code = "not_supported"
    grpc_code = "UNIMPLEMENTED"


class ConfigError(LaminaError):
    code = "config_error"
