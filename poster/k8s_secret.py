"""Kubernetes Secret manifests of the posters' platform credentials, taken from a `.env` file.

    data = secret_data(read_env_file(path), "twitter", path)    # {"LORECAST_TWITTER_CONSUMER_KEY": ..., ...}
    print(manifests_yaml([secret_manifest("lorecast-twitter", "lorecast", data)]), end="")

One Secret per platform (`lorecast-<platform>` unless named otherwise), type Opaque, whose `stringData` keys are
the LORECAST_… variable names the poster reads, so that a CronJob loads them with `envFrom: secretRef`:
  twitter  LORECAST_TWITTER_CONSUMER_KEY, _CONSUMER_SECRET, _ACCESS_TOKEN, _ACCESS_SECRET (all four required)
  tumblr   the same four, plus LORECAST_TUMBLR_BLOG and LORECAST_TUMBLR_TAGS when the file has them: not secret,
           but they are the account's settings, and keeping them beside its keys lets one Secret configure one
           account while the CronJob manifests hold no user data.
The manifests are built with the `kubernetes` client's models (a misspelt field fails at once) and serialized by
its ApiClient into YAML documents, each opened by `---`, for `kubectl apply -f -`. Errors name the file and the
variables, never a value. `kubernetes` and `yaml` are imported inside the functions that need them (the k8s extra).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lorecast.errors import SourceError
from poster.credentials import OAuth1Credentials

SECRET_PLATFORMS = ("twitter", "tumblr")
# Settings that travel in the account's Secret when the .env file has them (see the module docstring).
_ACCOUNT_SETTINGS = {"tumblr": ("LORECAST_TUMBLR_BLOG", "LORECAST_TUMBLR_TAGS")}
_LABELS = {"app.kubernetes.io/name": "lorecast", "app.kubernetes.io/component": "poster"}

# Kubernetes object names: a Secret's name is a DNS subdomain (RFC 1123), a namespace a DNS label.
# Use them with fullmatch.
DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS_LABEL = re.compile(r"(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def credential_names(platform: str) -> list[str]:
    """The four variables of the platform's OAuth1 credentials, e.g. LORECAST_TWITTER_ACCESS_TOKEN."""
    return [f"LORECAST_{platform.upper()}_{part.name.upper()}" for part in dataclasses.fields(OAuth1Credentials)]


def platforms_with_keys(values: Mapping[str, str]) -> list[str]:
    """The platforms that have at least one credential variable in `values`."""
    return [platform for platform in SECRET_PLATFORMS if any(name in values for name in credential_names(platform))]


def secret_data(values: Mapping[str, str], platform: str, source: Path) -> dict[str, str]:
    """The Secret's keys and values for `platform` from the variables of the .env file `source`."""
    required = credential_names(platform)
    if not any(name in values for name in required):
        raise SourceError(source, f"no LORECAST_{platform.upper()}_… credentials for {platform}")
    missing = [name for name in required if not values.get(name)]
    if missing:
        raise SourceError(source, f"{platform}: missing {', '.join(missing)} "
                                  f"(`lorecast auth {platform}` prints the access token and secret)")
    data = {name: values[name] for name in required}
    data.update({name: values[name] for name in _ACCOUNT_SETTINGS.get(platform, ()) if name in values})
    return data


def secret_manifest(name: str, namespace: str, data: Mapping[str, str]) -> dict[str, Any]:
    """The Secret as the plain dict the API server takes, built through the kubernetes client's models."""
    from kubernetes.client import ApiClient, V1ObjectMeta, V1Secret

    secret = V1Secret(
        api_version="v1", kind="Secret", type="Opaque", string_data=dict(data),
        metadata=V1ObjectMeta(name=name, namespace=namespace, labels=dict(_LABELS)),
    )
    with ApiClient() as client:
        return client.sanitize_for_serialization(secret)


def manifests_yaml(manifests: list[dict[str, Any]]) -> str:
    """YAML documents, each opened by `---`, keys in the order the client wrote them."""
    import yaml

    return yaml.safe_dump_all(manifests, explicit_start=True, sort_keys=False, allow_unicode=True)
