"""`lorecast auth twitter|tumblr|mastodon|bluesky`: sign lorecast in as the account that will post.

Mastodon (OAuth2, poster/commands/auth_mastodon.py) and Bluesky (an app password and a stored session,
poster/commands/auth_bluesky.py) have their own modules; this one holds the group and the two OAuth1 platforms.

The app's consumer key and secret come from the flags or the same-named LORECAST_… variables (environment or
`.env`). Each command prints the authorize URL, gets the verifier of the owner's authorization, and prints the
four LORECAST_<PLATFORM>_… lines for `.env` on stdout, so `>> .env` collects them; the instructions, the prompt
and a `lorecast k8s secret` hint go to stderr.

X (the PIN flow, poster/oauth_pin.py): X shows a PIN after the authorization; the command prompts for it. There
is no --pin flag: a PIN belongs to the request token fetched by the same run, so it cannot be known before the run
starts. A script answers the prompt on stdin after reading the URL from stderr instead.

Tumblr (the callback flow, poster/oauth_callback.py): Tumblr has no PIN page; it sends the browser to the app's
registered callback URL, which must be exactly http://127.0.0.1:PORT/callback (--callback-port, 8910 by
default). The command listens there and also reads stdin, where the owner can paste the address the browser was
sent to when the browser is on another machine; the first to come wins, within --wait seconds.

requests and requests-oauthlib are imported inside the commands, so `lorecast --help` works without the poster
extra.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from poster.commands.auth_bluesky import bluesky_command
from poster.commands.auth_mastodon import mastodon_command
from poster.commands.env_lines import print_env_lines
from poster.commands.options import API_URLS, stack_options
from poster.env_file import DotEnvGroup

if TYPE_CHECKING:
    from poster.oauth_pin import AccessToken, OAuthEndpoints

# The port of the callback URL registered for the Tumblr app; the docstrings below name it too.
DEFAULT_CALLBACK_PORT = 8910


@click.group("auth", cls=DotEnvGroup)
def auth_group() -> None:
    """Sign lorecast in as the account that will post; prints the .env lines.

    \b
    X:        an app at developer.x.com with Read and Write permission (its
              consumer key and secret); X shows a PIN after the
              authorization, which the command asks for
    Tumblr:   an app at www.tumblr.com/oauth/apps with the callback URL
              http://127.0.0.1:8910/callback; Tumblr sends the browser there
    Mastodon: registers an app on the instance and runs the OAuth2 code
              flow (or set an access token from the instance's settings)
    Bluesky:  signs in once with an app password and keeps the session
              next to the ledger
    """


auth_group.add_command(mastodon_command)
auth_group.add_command(bluesky_command)


def _consumer_options(platform: str, label: str) -> Callable:
    env = f"LORECAST_{platform.upper()}"
    key = click.option(f"--{platform}-consumer-key", "consumer_key", envvar=f"{env}_CONSUMER_KEY",
                       show_envvar=True, metavar="KEY",
                       help=f"The {label} app's consumer key (API key).")
    secret = click.option(f"--{platform}-consumer-secret", "consumer_secret", envvar=f"{env}_CONSUMER_SECRET",
                          show_envvar=True, metavar="SECRET",
                          help=f"The {label} app's consumer secret. A flag shows in the process list: prefer "
                               "the environment variable or .env.")
    timeout = click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
                           show_default=True, help=f"Seconds to wait for each answer from {label}.")
    return stack_options(key, secret, timeout)


@auth_group.command("twitter")
@_consumer_options("twitter", "X")
@click.option("--twitter-api-url", "api_url", default=API_URLS["twitter"], show_default=True,
              envvar="LORECAST_TWITTER_API_URL", show_envvar=True, metavar="URL",
              help="X API base URL; the OAuth endpoints are under it (/oauth/request_token, /oauth/authorize, "
                   "/oauth/access_token).")
def twitter_command(consumer_key: str | None, consumer_secret: str | None, timeout: float, api_url: str) -> None:
    """Get the access token and secret of the X account that will post."""
    from poster.oauth_pin import twitter_endpoints

    _authorize("twitter", "X", twitter_endpoints(api_url), consumer_key, consumer_secret, timeout)


@auth_group.command("tumblr")
@_consumer_options("tumblr", "Tumblr")
@click.option("--tumblr-oauth-url", "oauth_url", default="https://www.tumblr.com", show_default=True,
              envvar="LORECAST_TUMBLR_OAUTH_URL", show_envvar=True, metavar="URL",
              help="Where Tumblr's OAuth endpoints are (/oauth/request_token, /oauth/authorize, "
                   "/oauth/access_token); the API itself is elsewhere.")
@click.option("--callback-port", type=click.IntRange(1, 65535), default=DEFAULT_CALLBACK_PORT, show_default=True,
              envvar="LORECAST_TUMBLR_CALLBACK_PORT", show_envvar=True, metavar="PORT",
              help="Listen on http://127.0.0.1:PORT/callback for Tumblr's redirect. Register exactly that URL as "
                   "the app's default callback URL at www.tumblr.com/oauth/apps: Tumblr refuses any other.")
@click.option("--wait", type=click.FloatRange(min=0, min_open=True), default=300.0, show_default=True,
              metavar="SECONDS", help="How long to wait for the authorization to come back, by the browser or "
                                      "pasted.")
def tumblr_command(consumer_key: str | None, consumer_secret: str | None, timeout: float, oauth_url: str,
                   callback_port: int, wait: float) -> None:
    """Get the access token and secret of the Tumblr account that owns the blog.

    After the authorization Tumblr sends the browser to the app's default
    callback URL: register it at www.tumblr.com/oauth/apps as exactly
    http://127.0.0.1:8910/callback (or with the port of --callback-port).
    This command listens there. When the browser runs on another machine
    (this one is a server over ssh), that page will not load: copy its address
    from the address bar and paste it here instead.
    """
    from poster.oauth_callback import CallbackFlow
    from poster.oauth_pin import tumblr_endpoints

    _require_keys("tumblr", "Tumblr", consumer_key, consumer_secret)
    with CallbackFlow(consumer_key, consumer_secret, tumblr_endpoints(oauth_url), port=callback_port,
                      timeout=timeout) as flow:
        url = flow.start()
        click.echo(f"Open this URL, sign in as the account that owns the blog, and allow the app:\n\n  {url}\n\n"
                   f"Waiting up to {wait:g} s for Tumblr to send the browser to {flow.callback_url}. If the browser "
                   "is on another machine, that page will not load: paste its address (from the address bar) "
                   "here and press Enter.", err=True)
        token = flow.finish(sys.stdin, wait)
    _print_token("tumblr", consumer_key, consumer_secret, token)


def _authorize(platform: str, label: str, endpoints: OAuthEndpoints, consumer_key: str | None,
               consumer_secret: str | None, timeout: float) -> None:
    """The PIN flow: the URL, the PIN prompt, the token."""
    _require_keys(platform, label, consumer_key, consumer_secret)
    from poster.oauth_pin import PinFlow

    flow = PinFlow(consumer_key, consumer_secret, endpoints, timeout=timeout)
    url = flow.start()
    click.echo(f"Open this URL, sign in as the account that will post, and authorize the app:\n\n  {url}\n",
               err=True)
    token = flow.finish(click.prompt(f"The PIN {label} shows", err=True))
    _print_token(platform, consumer_key, consumer_secret, token)


def _require_keys(platform: str, label: str, consumer_key: str | None, consumer_secret: str | None) -> None:
    env = f"LORECAST_{platform.upper()}"
    missing = [f"--{platform}-consumer-{part} (or {env}_CONSUMER_{part.upper()})"
               for part, value in (("key", consumer_key), ("secret", consumer_secret)) if not value]
    if missing:
        raise click.UsageError(f"missing {' and '.join(missing)}: the {label} app's consumer key and secret")


def _print_token(platform: str, consumer_key: str, consumer_secret: str, token: AccessToken) -> None:
    """The .env lines on stdout; who authorized and the Kubernetes hint on stderr."""
    if token.screen_name:
        click.echo(f"Authorized as @{token.screen_name}.", err=True)
    print_env_lines(platform, (("CONSUMER_KEY", consumer_key), ("CONSUMER_SECRET", consumer_secret),
                               ("ACCESS_TOKEN", token.token), ("ACCESS_SECRET", token.secret)))
