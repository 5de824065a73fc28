"""`lorecast auth mastodon`: get a Mastodon account's access token with the OAuth out-of-band flow.

Registers lorecast as an app on the instance (unless the client id and secret of one registered before are
given), prints the authorize URL, asks for the code the instance shows (or the URL the browser ended on), trades
it for a token, checks the token with verify_credentials, and prints the LORECAST_MASTODON_… lines for `.env` on
stdout, so `>> .env` collects them; the instructions, the prompt and the Kubernetes hint go to stderr.

requests is imported inside the command, so `lorecast --help` works without the poster extra.
"""

from __future__ import annotations

import click

from poster.commands.env_lines import print_env_lines

_ENV = "LORECAST_MASTODON"


@click.option("--mastodon-instance", "instance_url", envvar=f"{_ENV}_INSTANCE", show_envvar=True, required=True,
              metavar="URL", help="The instance the account is on, e.g. https://mastodon.social.")
@click.option("--mastodon-client-id", "client_id", envvar=f"{_ENV}_CLIENT_ID", show_envvar=True, metavar="ID",
              help="The client id of a lorecast app registered on this instance before: reuse it instead of "
                   "registering a new app.")
@click.option("--mastodon-client-secret", "client_secret", envvar=f"{_ENV}_CLIENT_SECRET", show_envvar=True,
              metavar="SECRET",
              help="That app's client secret. A flag shows in the process list: prefer the environment variable "
                   "or .env.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Seconds to wait for each answer from the instance.")
def _mastodon(instance_url: str, client_id: str | None, client_secret: str | None, timeout: float) -> None:
    """Get an access token for the Mastodon account that will post.

    Needs no app set up beforehand: lorecast registers itself on the instance (scopes read write:statuses) and
    prints its client id and secret with the token, so a later run can reuse the app.

    \b
    Already have an access token? Create one in the instance's web interface
    (Preferences > Development > New application, scopes read and write:statuses)
    and just set LORECAST_MASTODON_INSTANCE and LORECAST_MASTODON_ACCESS_TOKEN.
    """
    if bool(client_id) != bool(client_secret):
        given, missing = ("id", "secret") if client_id else ("secret", "id")
        raise click.UsageError(f"--mastodon-client-{given} without --mastodon-client-{missing} (or "
                               f"{_ENV}_CLIENT_{missing.upper()}): give both to reuse an app, or neither")
    from poster.mastodon_oauth import MastodonApp, authorize_url, exchange_code, register_app
    from poster.platforms.mastodon import MastodonPlatform

    instance_url = instance_url.rstrip("/")
    if client_id and client_secret:
        app = MastodonApp(instance_url, client_id, client_secret)
    else:
        app = register_app(instance_url, timeout=timeout)
        click.echo(f"Registered lorecast as an app on {instance_url}.", err=True)
    click.echo("Open this URL, sign in as the account that will post, and authorize the app:\n\n"
               f"  {authorize_url(app)}\n", err=True)
    pasted = click.prompt("The code the instance shows, or the URL your browser was sent to", err=True)
    token = exchange_code(app, pasted, timeout=timeout)
    platform = MastodonPlatform(instance_url, token.access_token, timeout=timeout)
    try:
        acct = platform.account  # the token works: AuthRefused (one line, no token) otherwise
    finally:
        platform.close()
    click.echo(f"Authorized as @{acct}.", err=True)
    print_env_lines("mastodon", (("INSTANCE", instance_url), ("ACCESS_TOKEN", token.access_token),
                                 ("CLIENT_ID", app.client_id), ("CLIENT_SECRET", app.client_secret)))


mastodon_command = click.command("mastodon")(_mastodon)
