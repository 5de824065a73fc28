"""The one error type that the CLI turns into a one-line message instead of a traceback."""


class LorecastError(Exception):
    """A problem the user can fix (a bad path, a malformed file, a bad option).

    The message is shown as is, on one line, so it should name the file (and line) and the reason.
    """


class SourceError(LorecastError):
    """A source file that cannot be read: names the file, the line when known, and the reason."""

    def __init__(self, path, reason: str, line: int | None = None):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")
