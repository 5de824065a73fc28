"""`lorecast auth bluesky`: sign in to Bluesky once with an app password and keep the session next to the ledger.

It calls com.atproto.server.createSession once, writes the session record (poster/bluesky_session.py) beside the
ledger, says who it signed in as on stderr, and prints the three LORECAST_BLUESKY_… lines for `.env` on stdout,
so `>> .env` collects them. Later runs reuse and refresh that session instead of logging in (Bluesky allows about
30 logins per 5 minutes and 300 a day). requests is imported inside the command, so `lorecast --help` works
without the poster extra.
"""

from __future__ import annotations

import re

import click

from poster.commands.env_lines import print_env_lines
from poster.commands.options import ledger_option

DEFAULT_SERVICE = "https://bsky.social"
APP_PASSWORD_PATTERN = re.compile(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}")


def _auth_bluesky(service_url: str, handle: str | None, app_password: str | None, ledger_path: str,
                  timeout: float) -> None:
    """Sign in to Bluesky as the account that will post, with an app password.

    \b
    Create the app password in the Bluesky app under
      Settings > Privacy and security > App passwords
    (your account password works too, but cannot be revoked on its own and may ask for an email code).
    The session record goes beside the ledger (bluesky-session-HANDLE.json, mode 0600): keep it out of git.
    """
    if not handle:
        raise click.UsageError("missing --bluesky-handle (or LORECAST_BLUESKY_HANDLE): the account's handle, "
                               "e.g. mybot.bsky.social")
    handle = handle.lstrip("@")
    if not app_password:
        app_password = click.prompt(f"App password of {handle}", hide_input=True, err=True)
    if not APP_PASSWORD_PATTERN.fullmatch(app_password):
        click.echo("warning: this does not look like an app password (xxxx-xxxx-xxxx-xxxx); create one under "
                   "Settings > Privacy and security > App passwords", err=True)

    from poster.bluesky_session import BlueskySession, session_path
    from poster.platforms.bluesky import Xrpc

    path = session_path(ledger_path, handle)
    session = None
    xrpc = Xrpc(service_url, timeout, secrets=lambda: session.secrets() if session else (app_password,))
    try:
        session = BlueskySession(xrpc, handle, app_password, path)
        record = session.login()
    finally:
        xrpc.close()
    click.echo(f"Signed in as {record.handle} ({record.did}); the session is in {path}", err=True)
    print_env_lines("bluesky", (("SERVICE", service_url), ("HANDLE", handle), ("APP_PASSWORD", app_password)))


bluesky_command = click.command("bluesky")(
    click.option("--bluesky-service", "service_url", default=DEFAULT_SERVICE, show_default=True,
                 envvar="LORECAST_BLUESKY_SERVICE", show_envvar=True, metavar="URL",
                 help="The account's PDS (Bluesky-hosted accounts: https://bsky.social).")(
    click.option("--bluesky-handle", "handle", envvar="LORECAST_BLUESKY_HANDLE", show_envvar=True,
                 metavar="HANDLE", help="The account's handle, e.g. mybot.bsky.social.")(
    click.option("--bluesky-app-password", "app_password", envvar="LORECAST_BLUESKY_APP_PASSWORD",
                 show_envvar=True, metavar="PASSWORD",
                 help="An app password of the account (asked for, hidden, when missing). A flag shows in the "
                      "process list: prefer the environment variable or .env.")(
    ledger_option(
    click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
                 help="Seconds to wait for each answer from the PDS.")(
        _auth_bluesky))))))
