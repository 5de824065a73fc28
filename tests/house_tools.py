"""What the house tests share: the static import graph of our packages (ast, nothing imported), the house
rules' vocabulary (Rule) and the checker that holds a graph to a table of them (the table itself is in
test_house.py), the worker's import closure, and a clean venv made
of symlinks into .venv's site-packages.

Used by test_house.py, test_worker_package.py and test_wheel.py.
"""

from __future__ import annotations

import ast
import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import Distribution, distributions
from pathlib import Path

import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
OUR_PACKAGES = ("lorecast", "dataset", "textrules", "trainer", "serve_handler", "ops", "poster", "benchmarks")
STDLIB = frozenset(sys.stdlib_module_names)
# The site-packages of the environment the tests run in (.venv): what a clean venv links to.
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])


# -- the static import graph ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSite:
    """One imported name as the source spells it, resolved to an absolute dotted name."""

    module: str  # the importing module, dotted
    name: str  # what it imports: a module of ours, or a third-party / stdlib module (dotted as written)
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.module} imports {self.name}"


def module_files(root: Path = ROOT, packages: Iterable[str] = OUR_PACKAGES) -> dict[str, Path]:
    """{dotted module name: file} for every .py under the packages (a package is its __init__.py)."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if any(part == "__pycache__" or part.startswith(".") for part in relative.parts):
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _literal_import_call(node: ast.Call) -> str | None:
    """The module of `importlib.import_module("x")` / `import_module("x")` / `__import__("x")` with a literal."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
        return first.value
    return None


def imports_of(module: str, path: Path, known: Iterable[str]) -> list[ImportSite]:
    """Every import in the file, module level and inside functions/classes/try/if TYPE_CHECKING alike.

    `from a import b` yields `a.b` when that is a module of ours (it imports that file), else `a`. Relative
    imports are resolved against the module's package. `from __future__` is not an import.
    """
    known = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    sites = []

    def add(name: str, line: int) -> None:
        sites.append(ImportSite(module, name, path, line))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 >= len(package_parts):
                    raise ValueError(f"{path}:{node.lineno}: relative import beyond the top-level package")
                base_parts = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base == "__future__":
                continue
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
            for name in submodules:
                add(name, node.lineno)
            if len(submodules) < len(node.names):  # some names are attributes of `base` itself
                add(base, node.lineno)
        elif isinstance(node, ast.Call):
            literal = _literal_import_call(node)
            if literal is not None:
                add(literal, node.lineno)
    return sites


def import_sites(root: Path = ROOT, packages: Iterable[str] = OUR_PACKAGES) -> list[ImportSite]:
    modules = module_files(root, packages)
    return [site for module, path in modules.items() for site in imports_of(module, path, modules)]


def import_graph(sites: Iterable[ImportSite]) -> dict[str, set[str]]:
    """{module: {imported names}}: what check_house takes."""
    graph: dict[str, set[str]] = {}
    for site in sites:
        graph.setdefault(site.module, set()).add(site.name)
    return graph


def import_closure(start: str, root: Path = ROOT) -> set[Path]:
    """The files of our packages that importing `start` (a dotted module of ours) executes, statically: every
    import anywhere in a reached file counts (function-level ones too), and importing `a.b.c` runs `a` and `a.b`."""
    modules = module_files(root)
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen or module not in modules:
            continue
        seen.add(module)
        for site in imports_of(module, modules[module], modules):
            parts = site.name.split(".")
            todo.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
    return {modules[module] for module in seen}


# -- the house table ---------------------------------------------------------------------------------------------

ANY = None  # in a rule: no restriction


@dataclass(frozen=True)
class Rule:
    """What one package may import.

    ours: modules of our other packages it may import (an entry allows itself and its submodules); its own
          package is always allowed. ANY: all of ours.
    third_party: top-level third-party modules it may import; ANY: any. The standard library is always allowed.
    never: third-party top-level modules (or our packages) it must never import, named so in the report.
    """

    ours: frozenset[str] | None
    third_party: frozenset[str] | None
    never: frozenset[str] = field(default_factory=frozenset)


def rule(ours=ANY, third_party=ANY, never=()) -> Rule:
    return Rule(None if ours is ANY else frozenset(ours), None if third_party is ANY else frozenset(third_party),
                frozenset(never))


@dataclass(frozen=True)
class Violation:
    module: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.module} -> {self.name}: {self.reason}"


def _allowed(name: str, entries: Iterable[str]) -> bool:
    return any(name == entry or name.startswith(entry + ".") for entry in entries)


def check_house(graph: Mapping[str, Iterable[str]], house: Mapping[str, Rule]) -> list[Violation]:
    """Every arrow of `graph` ({module: imported dotted names}) that the table `house` ({package: Rule}) does
    not allow. A module's own package is always allowed, and so is the standard library (sys.stdlib_module_names),
    except where a rule names it in `never`."""
    violations = []
    for module in sorted(graph):
        package = module.split(".")[0]
        table_rule = house.get(package)
        if table_rule is None:
            violations.append(Violation(module, "*", f"package {package!r} has no row in the house table"))
            continue
        for name in sorted(set(graph[module])):
            top = name.split(".")[0]
            if top == package:
                continue
            if top in table_rule.never or name in table_rule.never:
                violations.append(Violation(module, name, f"{package} must never import {top}"))
            elif top in OUR_PACKAGES:
                if table_rule.ours is not ANY and not _allowed(name, table_rule.ours):
                    allowed = ", ".join(sorted(table_rule.ours)) or "nothing"
                    violations.append(Violation(module, name, f"of ours, {package} may import only {allowed}"))
            elif top in STDLIB:
                continue
            elif table_rule.third_party is not ANY and top not in table_rule.third_party:
                allowed = ", ".join(sorted(table_rule.third_party)) or "the standard library only"
                violations.append(Violation(
                    module, name, f"third-party {top} is not in {package}'s list ({allowed})"))
    return violations


# -- the worker's files ------------------------------------------------------------------------------------------

WORKER_PACKAGES = ("serve_handler", "textrules")
HANDLER_MODULE = "serve_handler.handler"


def package_files(package: str, suffix: str, root: Path = ROOT) -> set[Path]:
    return {
        path for path in (root / package).rglob(f"*{suffix}")
        if path.is_file()
        and not any(part == "__pycache__" or part.startswith(".") for part in path.relative_to(root).parts)
    }


def copy_worker_tree(target: Path, root: Path = ROOT) -> Path:
    """serve_handler/ and textrules/ (their .py and .json files) copied under `target`, nothing else."""
    for package in WORKER_PACKAGES:
        for source in package_files(package, ".py", root) | package_files(package, ".json", root):
            destination = target / source.relative_to(root)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
    return target


# -- a clean venv of symlinks ------------------------------------------------------------------------------------


def extra_requirements(extra: str | None, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The requirement strings of one extra of pyproject.toml, or of the base install (extra=None)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    if extra is None:
        return list(project.get("dependencies", []))
    return list(project["optional-dependencies"][extra])


@functools.lru_cache(maxsize=None)
def _installed(site: Path) -> dict[str, Distribution]:
    """{canonical name: distribution} of everything installed in `site`."""
    return {canonicalize_name(dist.metadata["Name"]): dist for dist in distributions(path=[str(site)])}


@functools.lru_cache(maxsize=None)
def _owners(site: Path) -> dict[str, frozenset[str]]:
    """{top-level entry of `site`: the distributions whose RECORD lists it}."""
    owners: dict[str, set[str]] = {}
    for name, dist in _installed(site).items():
        for entry in _top_level_entries(dist) if dist.files is not None else ():
            owners.setdefault(entry, set()).add(name)
    return {entry: frozenset(names) for entry, names in owners.items()}


def _find(name: str, site: Path) -> Distribution:
    try:
        return _installed(site)[name]
    except KeyError:
        raise LookupError(f"{name}: required but not installed in {site}") from None


def resolve_distributions(
    requirements: Iterable[str], exclude: Iterable[str] = (), site: Path = SITE_PACKAGES
) -> dict[str, Distribution]:
    """{canonical name: installed distribution} for the requirements and everything they require, transitively
    (markers evaluated for this interpreter, extras followed), leaving out (and not descending into) `exclude`.
    A required distribution that is missing, or installed at a version outside the specifier, is an error."""
    excluded = {canonicalize_name(name) for name in exclude}
    resolved: dict[str, Distribution] = {}
    extras_done: dict[str, set[str]] = {}
    todo = [(Requirement(text), "") for text in requirements]
    base_env = default_environment()
    while todo:
        requirement, wanted_by = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in excluded:
            continue
        dist = resolved.get(name) or _find(name, site)
        if not requirement.specifier.contains(dist.version, prereleases=True):
            raise LookupError(f"{name} {dist.version} does not satisfy {requirement} (wanted by {wanted_by or 'us'})")
        new_extras = {""} | set(requirement.extras)
        if name in resolved:
            new_extras -= extras_done[name]
            if not new_extras:
                continue
        resolved[name] = dist
        extras_done.setdefault(name, set()).update(new_extras)
        for text in dist.requires or []:
            child = Requirement(text)
            if child.marker is None or any(
                child.marker.evaluate({**base_env, "extra": extra}) for extra in new_extras
            ):
                todo.append((child, name))
    return resolved


def _top_level_entries(dist: Distribution) -> set[str]:
    if dist.files is None:
        raise LookupError(f"{dist.metadata['Name']}: no RECORD, cannot tell its files")
    return {
        file.parts[0] for file in dist.files
        if file.parts and file.parts[0] not in ("..", "__pycache__") and not Path(file).is_absolute()
    }


@dataclass
class CleanVenv:
    root: Path
    distributions: dict[str, Distribution]

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def site_packages(self) -> Path:
        return self.root / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"

    def run(self, *args: str, cwd: Path, timeout: float = 300, env: Mapping[str, str] | None = None
            ) -> subprocess.CompletedProcess:
        """Run the venv's python with a minimal environment (PATH, no PYTHONPATH, no user site, no .pyc writes)."""
        environment = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONNOUSERSITE": "1",
                       "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        return subprocess.run([str(self.python), *args], cwd=cwd, env=environment, capture_output=True, text=True,
                              timeout=timeout)


_SCRIPT = """#!{python}
import sys
from {module} import {attr}
if __name__ == "__main__":
    sys.argv[0] = sys.argv[0].removesuffix(".exe")
    sys.exit({call}())
"""


def make_clean_venv(
    target: Path, requirements: Iterable[str], exclude: Iterable[str] = (), *, site: Path = SITE_PACKAGES,
    scripts: bool = True,
) -> CleanVenv:
    """A venv at `target` (python -m venv --without-pip) whose site-packages holds only the distributions the
    requirements resolve to (see resolve_distributions): each top-level entry its RECORD lists is a symlink into
    `site`. With `scripts`, their console scripts are written to bin/ with the new venv's python as shebang, as
    pip would. An entry that another, left-out distribution also owns is linked file by file."""
    dists = resolve_distributions(requirements, exclude, site)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True, capture_output=True)
    venv = CleanVenv(target, dists)
    owners = _owners(site)
    for name, dist in dists.items():
        for entry in sorted(_top_level_entries(dist)):
            link = venv.site_packages / entry
            if owners.get(entry, frozenset()) <= set(dists):
                if not link.exists() and not link.is_symlink():
                    link.symlink_to(site / entry, target_is_directory=(site / entry).is_dir())
                continue
            for file in dist.files:  # shared with a left-out distribution: only this one's files
                if file.parts and file.parts[0] == entry and (site / file).is_file():
                    (venv.site_packages / file).parent.mkdir(parents=True, exist_ok=True)
                    if not (venv.site_packages / file).exists():
                        (venv.site_packages / file).symlink_to(site / file)
        if scripts:
            for entry_point in dist.entry_points.select(group="console_scripts"):
                module, _, attr = entry_point.value.partition(":")
                attr = attr.strip() or None
                if attr is None:
                    continue
                head = attr.split(".")[0]
                script = venv.bin / entry_point.name
                script.write_text(_SCRIPT.format(python=venv.python, module=module.strip(), attr=head,
                                                 call=attr), encoding="utf-8")
                script.chmod(0o755)
    return venv


def serve_venv(target: Path, *, keep_psutil: bool = False, scripts: bool = True) -> CleanVenv:
    """The serve extra's runtime without click (and without psutil unless kept): what the worker may rely on."""
    exclude = {"click"} if keep_psutil else {"click", "psutil"}
    return make_clean_venv(target, extra_requirements("serve"), exclude, scripts=scripts)
