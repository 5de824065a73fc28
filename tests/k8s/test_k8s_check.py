"""ops/k8s_check.py: the real k8s/ tree passes, and a copy of it broken in one place fails with the problem
line that names that place. Each broken copy adds a kustomize patch to the cpu overlay (or a file to the base),
aimed at objects found in the rendered real tree, so the cases follow the manifests as they change."""

from __future__ import annotations

import base64
import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_tree import (
    K8S,
    PLATFORMS,
    POD_SPEC,
    REPLY_PLATFORMS,
    REPO,
    add_to_base,
    find_kind,
    name_of,
    patch_overlay,
    pod_spec_of,
    poster_cronjobs,
)

from ops.k8s_check import (
    FINAL_EXIT_CODES,
    check_tree,
    images_pinned,
    poster_env_names,
    poster_jobs_fail_fast,
    schema_versions,
)

CHECK = ["-m", "ops.k8s_check"]


def test_the_real_tree_passes() -> None:
    done = subprocess.run([sys.executable, *CHECK], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    oldest, newest = schema_versions()
    assert f"validated strictly against Kubernetes {oldest} and {newest}" in done.stdout
    report = check_tree(K8S)
    assert report.problems == []
    assert report.documents["cpu"] > 0 and report.documents["gpu"] > 0
    assert oldest != newest


def test_an_unknown_field_fails_strict_validation(tree: Path, rendered) -> None:
    deployment = find_kind(rendered["cpu"], "Deployment", "torchserve")
    patch_overlay(tree, deployment, [{"op": "add", "path": f"{POD_SPEC['Deployment']}/containers/0/imagePullPolcy",
                                      "value": "Always"}])
    problems = check_tree(tree).problems
    assert problems == [
        f"cpu: {name_of(deployment)}: Kubernetes {version}: spec.template.spec.containers.0: Additional properties "
        "are not allowed ('imagePullPolcy' was unexpected)"
        for version in schema_versions()
    ]


def test_a_malformed_document_gets_its_schema_problems_and_no_crash(tree: Path, rendered) -> None:
    deployment = find_kind(rendered["cpu"], "Deployment", "torchserve")
    patch_overlay(tree, deployment, [{"op": "replace", "path": f"{POD_SPEC['Deployment']}/containers/0/resources",
                                      "value": "2 cpus"}])
    problems = check_tree(tree).problems
    assert [problem.partition(" is not of type ")[0] for problem in problems] == [
        f"cpu: {name_of(deployment)}: Kubernetes {version}: spec.template.spec.containers.0.resources: '2 cpus'"
        for version in schema_versions()
    ]


def test_an_unknown_kind_has_no_schema(tree: Path) -> None:
    add_to_base(tree, "typo.yaml", [{"apiVersion": "v1", "kind": "ConfigMapp", "metadata": {"name": "typo"}}])
    problems = check_tree(tree).problems
    for overlay in ("cpu", "gpu"):
        for version in schema_versions():
            assert f"{overlay}: ConfigMapp/typo: Kubernetes {version}: no schema for v1 ConfigMapp" in problems


def test_an_image_tagged_latest(tree: Path, rendered) -> None:
    deployment = find_kind(rendered["cpu"], "Deployment", "torchserve")
    container = pod_spec_of(deployment)["containers"][0]
    repository = container["image"].rpartition(":")[0]
    # As a user would do it: the overlay's image tag set to latest.
    path = tree / "overlays" / "cpu" / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text(encoding="utf-8"))
    images = [image for image in kustomization.get("images", []) if image["name"] != repository]
    kustomization["images"] = [*images, {"name": repository, "newTag": "latest"}]
    path.write_text(yaml.safe_dump(kustomization, sort_keys=False), encoding="utf-8")
    assert check_tree(tree).problems == [
        f"cpu: {name_of(deployment)}: container {container['name']}: image '{repository}:latest' uses :latest"
    ]


@pytest.mark.parametrize("image, problem", [
    ("ghcr.io/lorecast/poster:0.1.0", None),
    ("ghcr.io/lorecast/poster@sha256:" + "0" * 64, None),
    ("ghcr.io/lorecast/poster:latest", "uses :latest"),
    ("ghcr.io/lorecast/poster", "is not pinned (no tag or digest)"),
    ("localhost:5000/poster", "is not pinned (no tag or digest)"),  # a registry's port is no tag
])
def test_image_pinning(image: str, problem: str | None) -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": image}]}}
    found = [message for _, message in images_pinned([pod])]
    assert found == ([] if problem is None else [f"container c: image {image!r} {problem}"])


def test_a_container_without_limits(tree: Path, rendered) -> None:
    deployment = find_kind(rendered["cpu"], "Deployment", "torchserve")
    container = pod_spec_of(deployment)["containers"][0]
    patch_overlay(tree, deployment,
                  [{"op": "remove", "path": f"{POD_SPEC['Deployment']}/containers/0/resources/limits"}])
    assert check_tree(tree).problems == [
        f"cpu: {name_of(deployment)}: container {container['name']}: no resources.limits.{resource}"
        for resource in ("cpu", "memory")
    ]


def test_run_as_non_root_missing(tree: Path, rendered) -> None:
    cronjob = find_kind(rendered["cpu"], "CronJob", "poster")
    pod_spec = pod_spec_of(cronjob)
    # Remove it wherever the pod's containers get it from: the pod's securityContext and their own.
    paths = []
    if "runAsNonRoot" in pod_spec.get("securityContext", {}):
        paths.append(f"{POD_SPEC['CronJob']}/securityContext/runAsNonRoot")
    for section in ("initContainers", "containers"):
        paths += [f"{POD_SPEC['CronJob']}/{section}/{index}/securityContext/runAsNonRoot"
                  for index, container in enumerate(pod_spec.get(section) or [])
                  if "runAsNonRoot" in container.get("securityContext", {})]
    assert paths, "the poster's CronJob sets runAsNonRoot nowhere"
    patch_overlay(tree, cronjob, [{"op": "remove", "path": path} for path in paths])
    problems = check_tree(tree).problems
    assert (f"cpu: {name_of(cronjob)}: container {pod_spec['containers'][0]['name']}: runAsNonRoot is not true "
            "(in its or the pod's securityContext)") in problems
    assert all(problem.startswith(f"cpu: {name_of(cronjob)}: ") and "runAsNonRoot" in problem for problem in problems)


@pytest.mark.parametrize("operation, problem", [
    ({"op": "replace", "path": "allowPrivilegeEscalation", "value": True},
     "securityContext.allowPrivilegeEscalation is not false"),
    ({"op": "remove", "path": "readOnlyRootFilesystem"}, "securityContext.readOnlyRootFilesystem is not true"),
    ({"op": "replace", "path": "capabilities", "value": {"drop": ["NET_RAW"]}},
     "securityContext.capabilities.drop lacks ALL"),
])
def test_a_container_security_context_too_loose(tree: Path, rendered, operation: dict[str, Any],
                                                problem: str) -> None:
    deployment = find_kind(rendered["cpu"], "Deployment", "torchserve")
    container = pod_spec_of(deployment)["containers"][0]
    path = f"{POD_SPEC['Deployment']}/containers/0/securityContext/{operation['path']}"
    patch_overlay(tree, deployment, [{**operation, "path": path}])
    assert check_tree(tree).problems == [f"cpu: {name_of(deployment)}: container {container['name']}: {problem}"]


def test_a_cronjob_env_var_the_poster_does_not_read(tree: Path, rendered) -> None:
    cronjob = find_kind(rendered["cpu"], "CronJob", "poster")
    container = pod_spec_of(cronjob)["containers"][0]
    variable = {"name": "LORECAST_TUMBLR_BLG", "value": "mybot.tumblr.com"}
    base = f"{POD_SPEC['CronJob']}/containers/0/env"
    operation = ({"op": "add", "path": f"{base}/-", "value": variable} if container.get("env")
                 else {"op": "add", "path": base, "value": [variable]})
    patch_overlay(tree, cronjob, [operation])
    assert check_tree(tree).problems == [
        f"cpu: {name_of(cronjob)}: container {container['name']}: env LORECAST_TUMBLR_BLG is not read by lorecast "
        f"{container['args'][0]}"
    ]


def test_a_cronjob_env_var_from_a_config_map_the_poster_does_not_read(tree: Path, rendered) -> None:
    cronjob = find_kind(rendered["cpu"], "CronJob", "poster")
    container = pod_spec_of(cronjob)["containers"][0]
    add_to_base(tree, "settings.yaml", [{"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "poster-settings"},
                                          "data": {"LORECAST_LEDGER": "/data/posts.db",
                                                   "LORECAST_LEGDER": "/data/posts.db"}}])
    reference = {"configMapRef": {"name": "poster-settings"}}
    base = f"{POD_SPEC['CronJob']}/containers/0/envFrom"
    operation = ({"op": "add", "path": f"{base}/-", "value": reference} if container.get("envFrom")
                 else {"op": "add", "path": base, "value": [reference]})
    patch_overlay(tree, cronjob, [operation])
    assert check_tree(tree).problems == [
        f"cpu: {name_of(cronjob)}: container {container['name']}: env LORECAST_LEGDER (from ConfigMap/poster-settings) "
        f"is not read by lorecast {container['args'][0]}"
    ]


def test_the_poster_names_come_from_its_options() -> None:
    names = poster_env_names()
    assert {"LORECAST_ENDPOINT", "LORECAST_LEDGER", "LORECAST_REQUEST", "LORECAST_DEADLINE",
            "LORECAST_TWITTER_ACCESS_TOKEN", "LORECAST_TUMBLR_BLOG"} <= names
    assert "LORECAST_TUMBLR_BLG" not in names


_REAL = "tw-0123456789abcdefghij"


@pytest.mark.parametrize("secret, leaks", [
    ({"stringData": {"LORECAST_TWITTER_ACCESS_SECRET": _REAL}}, True),
    ({"data": {"LORECAST_TWITTER_ACCESS_SECRET": base64.b64encode(_REAL.encode()).decode()}}, True),
    ({"stringData": {"LORECAST_TWITTER_ACCESS_SECRET": "<from lorecast auth twitter>",
                     "LORECAST_TWITTER_ACCESS_TOKEN": "CHANGE_ME"},
      "data": {"LORECAST_TWITTER_CONSUMER_KEY": ""}}, False),
], ids=["stringData", "data", "placeholders"])
def test_a_secret_in_the_base_kustomization(tree: Path, secret: dict[str, Any], leaks: bool) -> None:
    add_to_base(tree, "leak.yaml", [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "lorecast-leak"},
                                      "type": "Opaque", **secret}])
    problems = check_tree(tree).problems
    expected = [
        f"{overlay}: Secret/lorecast-leak: key LORECAST_TWITTER_ACCESS_SECRET holds a real-looking value "
        "(credentials never go into k8s/: `lorecast k8s secret --from-env .env | kubectl apply -f -`)"
        for overlay in ("cpu", "gpu")
    ]
    assert problems == (expected if leaks else [])
    assert not any(_REAL in problem for problem in problems)
    assert not any(value in problem for problem in problems for value in secret.get("data", {}).values())


def test_the_torchserve_service_exposes_only_the_inference_port(tree: Path, rendered) -> None:
    service = find_kind(rendered["cpu"], "Service", "torchserve")
    patch_overlay(tree, service, [{"op": "add", "path": "/spec/ports/-",
                                   "value": {"name": "management", "port": 8081, "targetPort": 8081}}])
    assert check_tree(tree).problems == [
        f"cpu: {name_of(service)}: exposes port 8081 -> 8081: only the inference port 8080 may be exposed"
    ]


def test_a_kustomization_that_does_not_render(tree: Path) -> None:
    path = tree / "base" / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text(encoding="utf-8"))
    kustomization["resources"].append("absent.yaml")
    path.write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    problems = check_tree(tree).problems
    assert [problem.split(":", 1)[0] for problem in problems] == ["cpu", "gpu"]
    assert all(problem.split(": ", 1)[1].startswith("kustomize failed: ") for problem in problems)


def test_an_example_is_validated_and_held_only_to_the_secret_rule(tree: Path) -> None:
    (tree / "examples").mkdir(exist_ok=True)
    (tree / "examples" / "zz-broken.yaml").write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"}, "data": {"a": "b"}, "bogus": 1},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "latest"},  # no limits, :latest: not checked
         "spec": {"containers": [{"name": "c", "image": "busybox:latest"}]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "filled-in"},
         "stringData": {"LORECAST_TWITTER_ACCESS_TOKEN": _REAL, "LORECAST_TWITTER_ACCESS_SECRET": "REPLACE_ME"}},
    ]), encoding="utf-8")
    problems = check_tree(tree).problems
    assert problems == [
        *(f"examples/zz-broken.yaml: ConfigMap/bad: Kubernetes {version}: (top level): Additional properties are "
          "not allowed ('bogus' was unexpected)" for version in schema_versions()),
        "examples/zz-broken.yaml: Secret/filled-in: key LORECAST_TWITTER_ACCESS_TOKEN holds a real-looking value "
        "(credentials never go into k8s/: `lorecast k8s secret --from-env .env | kubectl apply -f -`)",
    ]
    assert not any(_REAL in problem for problem in problems)


def test_the_script_exits_1_with_the_problems_and_2_when_it_cannot_run(tree: Path, rendered) -> None:
    service = find_kind(rendered["cpu"], "Service", "torchserve")
    patch_overlay(tree, service, [{"op": "replace", "path": "/spec/ports/0/port", "value": 8082}])
    done = subprocess.run([sys.executable, *CHECK, str(tree)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"cpu: {name_of(service)}: exposes port 8082 -> "
                                        f"{service['spec']['ports'][0].get('targetPort', 8082)}: only the "
                                        "inference port 8080 may be exposed"]

    done = subprocess.run([sys.executable, *CHECK, "--kustomize", "no-such-kubectl kustomize", str(tree)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: no-such-kubectl: not found")


# --- the job rule: poster Jobs end at once on the exit codes a retry cannot change ------------------------------

_POLICY_PATH = "/spec/jobTemplate/spec/podFailurePolicy"
_RETRIED = ("do not end the Job (no FailJob rule on exitCodes of its containers matches them first): a retry meets "
            "the same stop")
_NOT_IGNORED = ("podFailurePolicy: no Ignore rule on the pod condition DisruptionTarget: a pod the cluster disrupted "
                "counts as a failure instead of being run again")
_NO_POLICY = ("no podFailurePolicy rules: exit codes 73 (ledger lock held), 75 (rate limited past the deadline), "
              "76 (spending budget reached) would be retried, and a pod the cluster disrupted would count as a failure")


def test_every_poster_cronjob_of_the_real_tree_has_the_policy(rendered) -> None:
    for documents in rendered.values():
        cronjobs = poster_cronjobs(documents)
        assert {cronjob["metadata"]["name"] for cronjob in cronjobs} == {
            f"lorecast-{command}-{platform}" for command in ("post", "feedback")
            for platform in PLATFORMS} | {
            f"lorecast-reply-{platform}" for platform in REPLY_PLATFORMS}
        for cronjob in cronjobs:
            assert cronjob["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 1  # other failures: one retry
            assert list(poster_jobs_fail_fast([cronjob])) == [], name_of(cronjob)


def test_the_final_exit_codes_are_the_posters() -> None:
    from poster.commands import exits

    # Every exit code the poster commands define on purpose (not 0, 1 or click's 2) must end a Job.
    defined = {value for name, value in vars(exits).items() if name.startswith("EXIT_")}
    assert {exits.EXIT_BUSY, exits.EXIT_RATE_LIMITED, exits.EXIT_BUDGET} <= defined
    assert defined <= set(FINAL_EXIT_CODES)


def test_without_the_base_patch_every_poster_cronjob_is_reported(tree: Path, rendered) -> None:
    path = tree / "base" / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text(encoding="utf-8"))
    del kustomization["patches"]
    path.write_text(yaml.safe_dump(kustomization, sort_keys=False), encoding="utf-8")
    assert check_tree(tree).problems == [
        f"{overlay}: {name_of(cronjob)}: {_NO_POLICY}"
        for overlay in ("cpu", "gpu") for cronjob in poster_cronjobs(rendered[overlay])
    ]


def test_a_poster_cronjob_whose_policy_misses_an_exit_code(tree: Path, rendered) -> None:
    cronjob = find_kind(rendered["cpu"], "CronJob", "poster")
    patch_overlay(tree, cronjob,
                  [{"op": "replace", "path": f"{_POLICY_PATH}/rules/0/onExitCodes/values", "value": [73, 75]}])
    assert check_tree(tree).problems == [
        f"cpu: {name_of(cronjob)}: podFailurePolicy: exit codes 76 (spending budget reached) {_RETRIED}"
    ]


def _variant(cronjob: dict[str, Any], change) -> dict[str, Any]:
    changed = copy.deepcopy(cronjob)
    change(changed["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"],
           changed["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return changed


def _count_75_first(rules, _):
    rules.insert(0, {"action": "Count", "onExitCodes": {"operator": "In", "values": [75]}})


def _misnamed_container(rules, _):
    rules[0]["onExitCodes"]["containerName"] = "postr"


def _ignore_instead_of_fail(rules, _):
    rules[0]["action"] = "Ignore"


def _not_in_other_codes(rules, _):
    rules[0]["onExitCodes"] = {"operator": "NotIn", "values": [1, 2]}  # matches 73, 75 and 76 too


def _all_containers(rules, _):
    del rules[0]["onExitCodes"]["containerName"]


def _no_disruption_rule(rules, _):
    del rules[1]


def _disruption_status_false(rules, _):
    rules[1]["onPodConditions"][0]["status"] = "False"


def _restart_on_failure(_, pod_spec):
    pod_spec["restartPolicy"] = "OnFailure"


@pytest.mark.parametrize("change, problem", [
    (_count_75_first, f"podFailurePolicy: exit codes 75 (rate limited past the deadline) {_RETRIED}"),
    (_misnamed_container, "podFailurePolicy: exit codes 73 (ledger lock held), 75 (rate limited past the deadline), "
                          f"76 (spending budget reached) {_RETRIED}"),
    (_ignore_instead_of_fail, "podFailurePolicy: exit codes 73 (ledger lock held), 75 (rate limited past the "
                              f"deadline), 76 (spending budget reached) {_RETRIED}"),
    (_not_in_other_codes, None),
    (_all_containers, None),
    (_no_disruption_rule, _NOT_IGNORED),
    (_disruption_status_false, _NOT_IGNORED),
    (_restart_on_failure, "podFailurePolicy needs the pod's restartPolicy Never"),
], ids=lambda value: getattr(value, "__name__", "")[1:] or None)
def test_the_job_rule_reads_the_rules_in_order(rendered, change, problem: str | None) -> None:
    cronjob = _variant(find_kind(rendered["cpu"], "CronJob", "poster"), change)
    assert [message for _, message in poster_jobs_fail_fast([cronjob])] == ([] if problem is None else [problem])


def test_the_job_rule_holds_plain_poster_jobs_too_and_nothing_else(rendered) -> None:
    cronjob = find_kind(rendered["cpu"], "CronJob", "poster")
    job_spec = copy.deepcopy(cronjob["spec"]["jobTemplate"]["spec"])
    del job_spec["podFailurePolicy"]
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "first-post"}, "spec": job_spec}
    assert [message for _, message in poster_jobs_fail_fast([job])] == [_NO_POLICY]
    other = copy.deepcopy(job)
    other["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] = "migrations"
    deployment = find_kind(rendered["cpu"], "Deployment", "torchserve")
    assert list(poster_jobs_fail_fast([other, deployment])) == []
