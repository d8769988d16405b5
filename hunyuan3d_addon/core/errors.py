"""Typed errors; each carries one sentence for the user: what happened and what to do."""

from __future__ import annotations


class Hunyuan3DError(Exception):
    """Base of every error the extension reports to a user."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


class ParamError(Hunyuan3DError, ValueError):
    """A parameter is out of range or of the wrong type (nothing was sent)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InputError(Hunyuan3DError):
    """An input file or prompt is missing, unreadable or of the wrong kind (nothing was sent)."""


class OfflineError(Hunyuan3DError):
    """Network access is not allowed."""


class AuthError(Hunyuan3DError):
    """401: the key is missing or invalid."""


class ForbiddenError(Hunyuan3DError):
    """403."""


class NotFoundError(Hunyuan3DError):
    """404: no such model, endpoint or request."""


class CreditsError(Hunyuan3DError):
    """406: not enough credits."""


class RequestError(Hunyuan3DError):
    """400, 405 or 422: the server refused the request as sent."""


class RateLimitError(Hunyuan3DError):
    """429: too many requests; retry_after is in seconds when the server said."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class ServerError(Hunyuan3DError):
    """5xx. 502/503/504 are worth a retry; 500 is not."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, status=status)
        self.retryable = status in (502, 503, 504)


class NetworkError(Hunyuan3DError):
    """Connection refused, DNS failure, TLS or proxy failure: the server was not reached."""

    retryable = True


class TimeoutError_(Hunyuan3DError):
    """No answer within the configured time-out."""

    retryable = True


class JobFailedError(Hunyuan3DError):
    """The server ran the job and reported it as failed."""


class ExpiredError(Hunyuan3DError):
    """A queued job's result is no longer on the server."""


class BadResponseError(Hunyuan3DError):
    """A 200 that carries no valid model, or a truncated download."""


class CancelledError(Hunyuan3DError):
    """The user cancelled the job."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


class StoreError(Hunyuan3DError):
    """The results folder cannot be written or read."""
