"""Check the Kubernetes manifests: `make k8s-check`, or `python -m ops.k8s_check [--kustomize CMD] [ROOT]`.

Every overlay ROOT/overlays/NAME/ (ROOT defaults to k8s) is rendered with `kubectl kustomize` and each document
of the output is checked:
  schema    validated strictly (unknown fields refused) against the oldest and the newest Kubernetes version the
            installed kubernetes-validate has schemas for; a built-in kind it has no schema for (a misspelt kind
            or apiVersion) is a problem too. Custom resources (a group outside *.k8s.io, e.g. KServe's) have no
            schema there: they are listed as not validated.
  env       every env var a CronJob's container sets (its env, and the keys of a ConfigMap its envFrom loads; a
            Secret's keys are not in the output) is one the poster reads: the `envvar`s of the options of the
            command the container runs (`lorecast post`, `reply` or `feedback`: its first argument), or of any of
            the three where the arguments name none of them
  image     every image is pinned by a tag or a digest, and the tag is not `latest`
  secret    no Secret carries a value other than an obvious placeholder: real credentials never belong in the
            kustomization (`lorecast k8s secret` prints them for `kubectl apply -f -`)
  container every container and init container has cpu and memory limits, runs as non-root (runAsNonRoot true in
            its own or the pod's securityContext), and its securityContext sets allowPrivilegeEscalation false,
            readOnlyRootFilesystem true and drops ALL capabilities
  port      a Service that selects the TorchServe pods exposes port 8080 (inference) and nothing else, and there
            is one
  job       every poster Job and CronJob (pods labelled app.kubernetes.io/component=poster) has a podFailurePolicy
            whose rules, taken in order, end the Job (FailJob) on the exit codes a retry cannot change (73 ledger
            lock held, 75 rate limited past the deadline, 76 spending budget reached) and Ignore a pod with the
            condition DisruptionTarget (the cluster took it away: run it again), with restartPolicy Never
  deadline  every poster CronJob has concurrencyPolicy Forbid and a startingDeadlineSeconds, every poster Job an
            activeDeadlineSeconds, and where the command has a --deadline (post, reply), the run's deadline plus
            one call's --timeout stays below activeDeadlineSeconds: the run ends on its own (exit 75, its ledger
            lock released) before Kubernetes kills it
  ledger    the ledger of every poster Job (--ledger: its args, env or a ConfigMap it loads, else the default) is a
            file on a PersistentVolumeClaim, and each reply and feedback job shares the ledger of its platform's post
            job (the one loading the same Secrets, where there is one): same claim, same file. The run lock that
            keeps one account's runs apart, and the index that allows one reply per mention, are in that file.
            A platform without a post job is not held to this (a bot that only replies).
The documents of ROOT/examples/*.yaml get the schema check and the secret rule only: they are not applied as they
are, but an example Secret filled in with real values must not be committed either.

The settings the deadline and ledger rules read come from the container's args, env and ConfigMaps; a Secret is
taken to hold credentials only.

Output: one line per problem, `WHERE: Kind/name: problem` (WHERE: the overlay's name or examples/FILE), exit 1;
else a summary, exit 0. Exit 2 when the check cannot run (no overlay under ROOT/overlays, kustomize missing).
Values of Secrets are never printed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import click
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError, all_versions, major_minor

Document = dict[str, Any]
# A rule looks at all documents of one overlay and yields (document, problem); document None: the overlay as a whole.
Rule = Callable[[list[Document]], Iterator[tuple[Document | None, str]]]

KUSTOMIZE = ("kubectl", "kustomize")
TORCHSERVE_SELECTOR = ("app.kubernetes.io/component", "torchserve")
POSTER_SELECTOR = ("app.kubernetes.io/component", "poster")
# The exit codes of `lorecast post` / `reply` / `feedback` (poster/commands/exits.py) that mean the poster stopped on
# purpose: a retry minutes later meets the same lock, limit or budget, so a poster Job must fail at once on them.
FINAL_EXIT_CODES = {73: "ledger lock held", 75: "rate limited past the deadline", 76: "spending budget reached"}
DISRUPTION_CONDITION = "DisruptionTarget"
INFERENCE_PORT = 8080
# Where the pod template sits in each workload kind (a Pod is its own template).
_TEMPLATE_PATHS = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
# Where the Job spec sits (podFailurePolicy, backoffLimit).
_JOB_SPEC_PATHS = {"Job": ("spec",), "CronJob": ("spec", "jobTemplate", "spec")}
# The poster container's name (the podFailurePolicy's rule on exit codes names it too).
POSTER_CONTAINER = "poster"
# Values that say "fill me in" at a glance; anything else in a Secret counts as a credential.
_PLACEHOLDER = re.compile(
    r"^(|<[^<>]*>|\$\{[^{}]*\}|x+|\*+|\.+|…|(change|replace)[-_ ]?me|placeholder|example|dummy|redacted|todo)$",
    re.IGNORECASE,
)


class CheckError(Exception):
    """The check cannot run at all (as opposed to a problem found in the manifests)."""


class SettingError(Exception):
    """A poster container sets an option to a value its command refuses: a problem of that container."""


class RenderError(Exception):
    """kustomize ran and refused the overlay: a problem of that overlay."""


@dataclass
class Report:
    versions: tuple[str, str]  # the Kubernetes versions validated against
    problems: list[str] = field(default_factory=list)
    documents: dict[str, int] = field(default_factory=dict)  # WHERE -> documents checked
    not_validated: list[str] = field(default_factory=list)  # custom resources, as "WHERE: Kind/name"


def schema_versions() -> tuple[str, str]:
    """The oldest and the newest Kubernetes version ("1.25") the installed kubernetes-validate has schemas for."""
    versions = all_versions()  # sorted oldest first
    return major_minor(versions[0]), major_minor(versions[-1])


def problem_line(where: str, document: Document | None, problem: str) -> str:
    """`WHERE: Kind/name: problem`, or `WHERE: problem` for one about the whole overlay."""
    if document is None:
        return f"{where}: {problem}"
    return f"{where}: {object_name(document)}: {problem}"


def object_name(document: Document) -> str:
    return f"{document.get('kind', '?')}/{(document.get('metadata') or {}).get('name', '?')}"


def is_custom_resource(document: Document) -> bool:
    """Built-in groups are core (""), single words (apps, batch) or *.k8s.io; a CRD's group has a dot."""
    group = document["apiVersion"].rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def schema_problems(document: Document, versions: Sequence[str]) -> list[str]:
    problems = []
    for version in versions:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except ValidationError as error:
            where = ".".join(str(part) for part in error.path) or "(top level)"
            # A schema message quotes the offending value; a Secret's value must not reach the output.
            detail = f"fails {error.validator!r}" if document["kind"] == "Secret" else error.message
            problems.append(f"Kubernetes {error.version}: {where}: {_one_line(detail)}")
        except SchemaNotFoundError:
            problems.append(f"Kubernetes {version}: no schema for {document['apiVersion']} {document['kind']}")
    return problems


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- what the rules look at -------------------------------------------------------------------------------------

def pod_template(document: Document) -> Document | None:
    return _at(document, _TEMPLATE_PATHS.get(document.get("kind", "")))


def job_spec(document: Document) -> Document | None:
    """The Job spec of a Job or CronJob; None for other kinds."""
    return _at(document, _JOB_SPEC_PATHS.get(document.get("kind", "")))


def _at(document: Document, path: Sequence[str] | None) -> Document | None:
    if path is None:
        return None
    node: Any = document
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def containers(pod_spec: Document) -> Iterator[tuple[str, Document]]:
    """(label, container) for each init container and container, label e.g. "init container fix-perms"."""
    for section, label in (("initContainers", "init container"), ("containers", "container")):
        for container in pod_spec.get(section) or []:
            yield f"{label} {container.get('name', '?')}", container


def workloads(documents: list[Document]) -> Iterator[tuple[Document, Document]]:
    """(document, pod spec) of every document that runs pods."""
    for document in documents:
        template = pod_template(document)
        if template is not None:
            yield document, template.get("spec") or {}


def platform_commands() -> dict[str, Any]:
    """The click commands a poster CronJob runs against a platform, by name: post, reply, feedback."""
    from poster.commands.post import feedback_command, post_command
    from poster.commands.reply import reply_command

    return {command.name: command for command in (post_command, reply_command, feedback_command)}


@functools.lru_cache(maxsize=None)
def poster_env_names(command: str | None = None) -> frozenset[str]:
    """Every environment variable that `lorecast COMMAND` reads, from its click options; command None: any of the
    platform commands."""
    commands = platform_commands()
    names = set()
    for name in [command] if command is not None else commands:
        for parameter in commands[name].params:
            envvar = getattr(parameter, "envvar", None)
            names.update([envvar] if isinstance(envvar, str) else envvar or [])
    return frozenset(names)


def poster_run(container: Document) -> tuple[str, str] | None:
    """(command, platform) of a container that runs `lorecast COMMAND PLATFORM` (its args after the image's
    entrypoint, or a command line that starts with lorecast); None for anything else."""
    words = [str(word) for word in [*(container.get("command") or []), *(container.get("args") or [])]]
    for index, word in enumerate(words):
        if PurePosixPath(word).name == "lorecast":
            words = words[index + 1:]
            break
    if len(words) >= 2 and words[0] in platform_commands() and not words[1].startswith("-"):
        return words[0], words[1]
    return None


def setting(container: Document, config_maps: dict[str, Document], command: str, parameter: str) -> Any:
    """The value `lorecast COMMAND` gets for its option `parameter` (e.g. "deadline_s") in this container, as click
    resolves it: a flag in the args, else its env var (env before envFrom, as Kubernetes sets them; Secrets are
    taken to hold credentials only), else the option's default. Converted by the option's type; a value the command
    would refuse raises SettingError."""
    option = next(option for option in platform_commands()[command].params if option.name == parameter)
    args = [str(word) for word in container.get("args") or []]
    raw = None
    for index, word in enumerate(args):
        for flag in option.opts:
            if word == flag and index + 1 < len(args):
                raw = args[index + 1]
            elif word.startswith(flag + "="):
                raw = word[len(flag) + 1:]
    if raw is None and option.envvar:
        raw = _env_values(container, config_maps).get(option.envvar)
    if raw is None:
        return option.default
    try:
        return option.type.convert(raw, option, None)
    except click.BadParameter as error:
        raise SettingError(f"{option.envvar or option.opts[0]} {raw!r}: lorecast {command} refuses it "
                           f"({error.format_message()})") from None


def _config_maps(documents: list[Document]) -> dict[str, Document]:
    return {(document.get("metadata") or {}).get("name"): document
            for document in documents if document.get("kind") == "ConfigMap"}


def _env_values(container: Document, config_maps: dict[str, Document]) -> dict[str, str]:
    """The literal values of the variables the container sets (ConfigMaps' keys, then env entries over them)."""
    values = {}
    for source in container.get("envFrom") or []:
        data = config_maps.get((source.get("configMapRef") or {}).get("name"), {}).get("data") or {}
        values.update({source.get("prefix", "") + key: str(value) for key, value in data.items()})
    for variable in container.get("env") or []:
        if "value" in variable:
            values[variable.get("name")] = str(variable["value"])
        else:
            values.pop(variable.get("name"), None)  # from a Secret or a field: not known here
    return values


def poster_jobs(documents: list[Document]) -> Iterator[tuple[Document, Document, Document]]:
    """(document, pod spec, Job spec) of every Job and CronJob whose pods are labelled as posters."""
    key, value = POSTER_SELECTOR
    for document, pod_spec in workloads(documents):
        spec = job_spec(document)
        labels = ((pod_template(document) or {}).get("metadata") or {}).get("labels") or {}
        if spec is not None and labels.get(key) == value:
            yield document, pod_spec, spec


def poster_container(pod_spec: Document) -> Document | None:
    return next((container for container in pod_spec.get("containers") or []
                 if container.get("name") == POSTER_CONTAINER), None)


# --- the rules --------------------------------------------------------------------------------------------------

def env_read_by_poster(documents: list[Document]) -> Iterator[tuple[Document, str]]:
    config_maps = _config_maps(documents)
    for document, pod_spec in workloads(documents):
        if document["kind"] != "CronJob":
            continue
        for container in pod_spec.get("containers") or []:
            run = poster_run(container)
            known = poster_env_names(run[0] if run else None)
            reader = f"lorecast {run[0]}" if run else "the poster (lorecast post / reply / feedback)"
            for name, origin in _env_names(container, config_maps):
                if name not in known:
                    yield document, (f"container {container.get('name', '?')}: env {name}{origin} is not read by "
                                     f"{reader}")


def _env_names(container: Document, config_maps: dict[str, Document]) -> Iterator[tuple[str, str]]:
    """(name, origin) of each variable the container sets that the rendered output shows: its env entries, and the
    keys of the ConfigMaps its envFrom loads. A Secret's keys are not there: Secrets stay out of the kustomization."""
    for variable in container.get("env") or []:
        yield variable.get("name"), ""
    for source in container.get("envFrom") or []:
        name = (source.get("configMapRef") or {}).get("name")
        if name in config_maps:
            for key in config_maps[name].get("data") or {}:
                yield source.get("prefix", "") + key, f" (from ConfigMap/{name})"


def images_pinned(documents: list[Document]) -> Iterator[tuple[Document, str]]:
    for document, pod_spec in workloads(documents):
        for label, container in containers(pod_spec):
            image = container.get("image", "")
            if "@" in image:  # a digest pins it, whatever the tag
                continue
            name, _, tag = image.rpartition(":")
            if not name or "/" in tag:  # no colon, or the colon was a registry's port
                yield document, f"{label}: image {image!r} is not pinned (no tag or digest)"
            elif tag == "latest":
                yield document, f"{label}: image {image!r} uses :latest"


def secrets_are_placeholders(documents: list[Document]) -> Iterator[tuple[Document, str]]:
    for document in documents:
        if document.get("kind") != "Secret":
            continue
        values = dict(document.get("stringData") or {})
        for key, encoded in (document.get("data") or {}).items():
            try:
                values[key] = base64.b64decode(str(encoded), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                values[key] = encoded  # not text: nothing a placeholder looks like
        for key, value in values.items():
            if not _PLACEHOLDER.match(str(value).strip()):
                yield document, (f"key {key} holds a real-looking value (credentials never go into k8s/: "
                                 "`lorecast k8s secret --from-env .env | kubectl apply -f -`)")


def containers_limited_and_non_root(documents: list[Document]) -> Iterator[tuple[Document, str]]:
    for document, pod_spec in workloads(documents):
        pod_non_root = (pod_spec.get("securityContext") or {}).get("runAsNonRoot")
        for label, container in containers(pod_spec):
            limits = (container.get("resources") or {}).get("limits") or {}
            for resource in ("cpu", "memory"):
                if resource not in limits:
                    yield document, f"{label}: no resources.limits.{resource}"
            security = container.get("securityContext") or {}
            if security.get("runAsNonRoot", pod_non_root) is not True:
                yield document, f"{label}: runAsNonRoot is not true (in its or the pod's securityContext)"
            if security.get("allowPrivilegeEscalation") is not False:
                yield document, f"{label}: securityContext.allowPrivilegeEscalation is not false"
            if security.get("readOnlyRootFilesystem") is not True:
                yield document, f"{label}: securityContext.readOnlyRootFilesystem is not true"
            if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
                yield document, f"{label}: securityContext.capabilities.drop lacks ALL"


def torchserve_service_inference_only(documents: list[Document]) -> Iterator[tuple[Document | None, str]]:
    key, value = TORCHSERVE_SELECTOR
    services = [document for document in documents if document.get("kind") == "Service"
                and ((document.get("spec") or {}).get("selector") or {}).get(key) == value]
    if not services:
        yield None, f"no Service selects the TorchServe pods ({key}: {value})"
    for service in services:
        selector = service["spec"]["selector"]
        named_ports = {
            port["name"]: port.get("containerPort")
            for _, pod_spec in _selected_pods(documents, selector)
            for _, container in containers(pod_spec)
            for port in container.get("ports") or [] if "name" in port
        }
        for port in service["spec"].get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            target = named_ports.get(target, target) if isinstance(target, str) else target
            if port.get("port") != INFERENCE_PORT or target != INFERENCE_PORT:
                yield service, (f"exposes port {port.get('port')} -> {port.get('targetPort', port.get('port'))}: "
                                f"only the inference port {INFERENCE_PORT} may be exposed")


def poster_jobs_fail_fast(documents: list[Document]) -> Iterator[tuple[Document, str]]:
    for document, pod_spec, spec in poster_jobs(documents):
        rules = (spec.get("podFailurePolicy") or {}).get("rules") or []
        if not rules:
            yield document, (f"no podFailurePolicy rules: exit codes {_codes(FINAL_EXIT_CODES)} would be retried, "
                             "and a pod the cluster disrupted would count as a failure")
            continue
        names = {container.get("name") for _, container in containers(pod_spec)}
        actions = {code: _exit_code_action(rules, code, names) for code in FINAL_EXIT_CODES}
        retried = [code for code, action in actions.items() if action != "FailJob"]
        if retried:
            yield document, (f"podFailurePolicy: exit codes {_codes(retried)} do not end the Job (no FailJob rule on "
                             "exitCodes of its containers matches them first): a retry meets the same stop")
        if not any(rule.get("action") == "Ignore" and _disruption_rule(rule) for rule in rules):
            yield document, (f"podFailurePolicy: no Ignore rule on the pod condition {DISRUPTION_CONDITION}: a pod "
                             "the cluster disrupted counts as a failure instead of being run again")
        if pod_spec.get("restartPolicy") != "Never":
            yield document, "podFailurePolicy needs the pod's restartPolicy Never"


def poster_jobs_bounded(documents: list[Document]) -> Iterator[tuple[Document, str]]:
    config_maps = _config_maps(documents)
    for document, pod_spec, spec in poster_jobs(documents):
        if document["kind"] == "CronJob":
            policy = document["spec"].get("concurrencyPolicy", "Allow")
            if policy != "Forbid":
                yield document, (f"concurrencyPolicy {policy}, not Forbid: a run still going meets the next one "
                                 "(Allow: that one exits 73; Replace: the running one is killed, mid-post perhaps)")
            if document["spec"].get("startingDeadlineSeconds") is None:
                yield document, ("no startingDeadlineSeconds: runs the controller missed start late, into the time "
                                 "of the account's next run")
        active = spec.get("activeDeadlineSeconds")
        if active is None:
            yield document, ("no activeDeadlineSeconds: a run that hangs keeps the account's ledger lock until "
                             "another run takes it over as stale")
            continue
        container = poster_container(pod_spec)
        run = poster_run(container) if container is not None else None
        options = {option.name for option in platform_commands()[run[0]].params} if run is not None else set()
        if "deadline_s" not in options:  # feedback: no deadline to set
            continue
        try:
            deadline = setting(container, config_maps, run[0], "deadline_s")
            timeout = setting(container, config_maps, run[0], "timeout_s") if "timeout_s" in options else 0
        except SettingError as error:
            yield document, f"container {POSTER_CONTAINER}: {error}"
            continue
        if deadline + timeout >= active:
            yield document, (f"the run's deadline ({deadline:g} s) and one call's timeout ({timeout:g} s) reach "
                             f"activeDeadlineSeconds ({active}): Kubernetes would kill the run before it stops on "
                             "its own (exit 75), and its ledger lock would stay taken until it is stale")


def poster_ledgers_shared(documents: list[Document]) -> Iterator[tuple[Document, str]]:
    config_maps = _config_maps(documents)
    found = []  # (document, command, platform, Secrets, ledger location)
    for document, pod_spec, _ in poster_jobs(documents):
        container = poster_container(pod_spec)
        run = poster_run(container) if container is not None else None
        if run is None:
            continue
        try:
            ledger = setting(container, config_maps, run[0], "ledger_path")
        except SettingError as error:
            yield document, f"container {POSTER_CONTAINER}: {error}"
            continue
        location, problem = _ledger_location(pod_spec, container, ledger)
        if problem is not None:
            yield document, f"container {POSTER_CONTAINER}: {problem}"
            continue
        secrets = frozenset((source.get("secretRef") or {}).get("name") for source in container.get("envFrom") or []
                            if "secretRef" in source)
        found.append((document, *run, secrets, location))
    for document, command, platform, secrets, location in found:
        if command == "post":
            continue
        posts = [entry for entry in found if entry[1] == "post" and entry[2] == platform]
        same_account = [entry for entry in posts if entry[3] == secrets]
        candidates = same_account or posts
        if candidates and not any(entry[4] == location for entry in candidates):
            theirs = ", ".join(f"{object_name(entry[0])} on {_location(entry[4])}" for entry in candidates)
            yield document, (f"{command} {platform}: its ledger ({_location(location)}) is not its post job's "
                             f"({theirs}): the runs of one account share one ledger, whose lock keeps them apart "
                             "and whose posts and mentions they read")


def _ledger_location(pod_spec: Document, container: Document, ledger: str) -> tuple[tuple[str, str] | None, str | None]:
    """((claim name, path of the file inside the claim), None), or (None, the problem)."""
    path = PurePosixPath(ledger)
    if not path.is_absolute():
        if not container.get("workingDir"):
            return None, (f"the ledger {ledger} is a relative path: where it lands depends on the image's working "
                          "directory (set an absolute --ledger / LORECAST_LEDGER on the ledger volume)")
        path = PurePosixPath(container["workingDir"]) / path
    mounts = [mount for mount in container.get("volumeMounts") or []
              if path.is_relative_to(PurePosixPath(mount.get("mountPath", "")))]
    if not mounts:
        return None, f"the ledger {path} is on no volume: the container's own filesystem, gone after each run"
    mount = max(mounts, key=lambda mount: len(PurePosixPath(mount["mountPath"]).parts))
    volume = next((volume for volume in pod_spec.get("volumes") or [] if volume.get("name") == mount.get("name")),
                  {})
    claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
    if claim is None:
        kind = next((key for key in volume if key != "name"), "no volume of that name")
        return None, (f"the ledger {path} is on the volume {mount.get('name')} ({kind}), not a PersistentVolumeClaim: "
                      "it would not outlive the pod, and with it what keeps a text or a reply from going out twice")
    inside = PurePosixPath("/", mount.get("subPath") or "", path.relative_to(PurePosixPath(mount["mountPath"])))
    return (claim, str(inside)), None


def _location(location: tuple[str, str]) -> str:
    return f"PersistentVolumeClaim/{location[0]}:{location[1]}"


def _exit_code_action(rules: list[Document], code: int, container_names: set[str]) -> str | None:
    """The action of the first rule on exit codes that a container of the pod exiting with `code` matches. Rules on
    pod conditions match only pods with that condition, so they do not decide what an exit code does."""
    for rule in rules:
        requirement = rule.get("onExitCodes") or {}
        operator = requirement.get("operator")
        if operator not in ("In", "NotIn"):
            continue  # no requirement on exit codes, or one the API server would refuse
        if "containerName" in requirement and requirement["containerName"] not in container_names:
            continue  # names a container the pod does not have: matches nothing
        if (code in (requirement.get("values") or [])) == (operator == "In"):
            return rule.get("action")
    return None


def _disruption_rule(rule: Document) -> bool:
    return any(pattern.get("type") == DISRUPTION_CONDITION and pattern.get("status", "True") == "True"
               for pattern in rule.get("onPodConditions") or [])


def _codes(codes: Iterable[int]) -> str:
    """E.g. `73 (ledger lock held), 75 (rate limited past the deadline)`."""
    return ", ".join(f"{code} ({FINAL_EXIT_CODES[code]})" for code in codes)


def _selected_pods(documents: list[Document], selector: dict[str, str]) -> Iterator[tuple[Document, Document]]:
    for document, pod_spec in workloads(documents):
        labels = ((pod_template(document) or {}).get("metadata") or {}).get("labels") or {}
        if all(labels.get(key) == value for key, value in selector.items()):
            yield document, pod_spec


RULES: tuple[Rule, ...] = (
    env_read_by_poster,
    images_pinned,
    secrets_are_placeholders,
    containers_limited_and_non_root,
    torchserve_service_inference_only,
    poster_jobs_fail_fast,
    poster_jobs_bounded,
    poster_ledgers_shared,
)
EXAMPLE_RULES: tuple[Rule, ...] = (secrets_are_placeholders,)


# --- running it -------------------------------------------------------------------------------------------------

def render(overlay: Path, kustomize: Sequence[str] = KUSTOMIZE) -> str:
    """The overlay rendered by kustomize; CheckError when kustomize cannot run, RenderError when it fails."""
    try:
        done = subprocess.run([*kustomize, str(overlay)], capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise CheckError(f"{kustomize[0]}: not found (install kubectl, or name the command with --kustomize)")
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or [f"exit status {done.returncode}"]
        raise RenderError(f"kustomize failed: {_one_line(lines[-1])}")
    return done.stdout


def parse(text: str) -> tuple[list[Document], list[str]]:
    """The non-empty documents of a YAML stream, and problems for those that are not Kubernetes objects."""
    documents, problems = [], []
    for index, document in enumerate(yaml.safe_load_all(text), 1):
        if document is None:
            continue
        if not isinstance(document, dict) or not all(
                isinstance(document.get(key), str) and document[key] for key in ("apiVersion", "kind")):
            problems.append(f"document {index}: not a Kubernetes object (no apiVersion and kind)")
            continue
        documents.append(document)
    return documents, problems


def overlays(root: Path) -> list[Path]:
    found = sorted(path.parent for path in (root / "overlays").glob("*/kustomization.yaml"))
    if not found:
        raise CheckError(f"{root / 'overlays'}: no overlay with a kustomization.yaml")
    return found


def check_documents(where: str, documents: list[Document], report: Report, rules: Sequence[Rule]) -> None:
    schema_failed = False
    for document in documents:
        if is_custom_resource(document):
            report.not_validated.append(f"{where}: {object_name(document)}")
            continue
        problems = schema_problems(document, report.versions)
        schema_failed = schema_failed or bool(problems)
        report.problems += [problem_line(where, document, problem) for problem in problems]
    for rule in rules:
        try:
            found = list(rule(documents))
        except (AttributeError, KeyError, TypeError):
            if not schema_failed:
                raise
            found = []  # a malformed document tripped the rule: its schema problems above say what is wrong
        report.problems += [problem_line(where, document, problem) for document, problem in found]
    report.documents[where] = len(documents)


def check_tree(root: Path, kustomize: Sequence[str] = KUSTOMIZE) -> Report:
    """Check every overlay of `root` (schema and rules) and its examples (schema and the secret rule)."""
    report = Report(versions=schema_versions())
    for overlay in overlays(root):
        try:
            documents, problems = parse(render(overlay, kustomize))
        except (RenderError, yaml.YAMLError) as error:
            report.problems.append(f"{overlay.name}: {_one_line(str(error))}")
            continue
        report.problems += [f"{overlay.name}: {problem}" for problem in problems]
        check_documents(overlay.name, documents, report, RULES)
    for example in sorted((root / "examples").glob("*.yaml")):
        where = f"examples/{example.name}"
        try:
            documents, problems = parse(example.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            report.problems.append(f"{where}: not YAML ({_one_line(str(error))})")
            continue
        report.problems += [f"{where}: {problem}" for problem in problems]
        check_documents(where, documents, report, EXAMPLE_RULES)
    return report


def summary(report: Report) -> list[str]:
    oldest, newest = report.versions
    lines = [f"{where}: {count} document{'' if count == 1 else 's'}" for where, count in report.documents.items()]
    lines.append(f"validated strictly against Kubernetes {oldest} and {newest} "
                 f"(kubernetes-validate {kubernetes_validate.__version__}); overlays passed the env, image, "
                 "secret, container, port, job, deadline and ledger rules")
    lines += [f"not validated (a custom resource, no schema shipped): {entry}" for entry in report.not_validated]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", default="k8s", type=Path,
                        help="The manifests' root: overlays/*/kustomization.yaml and examples/*.yaml (default: k8s).")
    parser.add_argument("--kustomize", default=shlex.join(KUSTOMIZE), metavar="CMD",
                        help="The command that renders a kustomization directory given as its last argument "
                             "(default: 'kubectl kustomize'; 'kustomize build' works too).")
    arguments = parser.parse_args(argv)
    try:
        report = check_tree(arguments.root, shlex.split(arguments.kustomize))
    except CheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in report.problems or summary(report):
        print(line)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
