"""OAuth 1.0a credentials of one account, kept out of reprs, logs and errors."""

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
