"""OAuth 1.0a credentials of one account, kept out of reprs, logs and errors, and the scrubbing of secrets out of
the one-line messages the poster prints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OAuth1Credentials:
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    access_secret: str = field(repr=False)

    def secrets(self) -> tuple[str, ...]:
        """Every value, for scrubbing them out of any text that leaves the process."""
        return (self.consumer_key, self.consumer_secret, self.access_token, self.access_secret)


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret (of 4 characters or more) replaced by ***."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


MAX_MESSAGE_CHARS = 300  # an error line stays readable: a server's long answer is cut


def one_line(message: str, secrets: tuple[str, ...] = ()) -> str:
    """`message` on one line, cut to a readable length, with every secret replaced by ***."""
    line = scrub(" ".join(message.split()), secrets)
    return line if len(line) <= MAX_MESSAGE_CHARS else line[: MAX_MESSAGE_CHARS - 3] + "..."
