"""The house (DESIGN.md): the allowed imports between our packages, as a table; an arrow outside it fails.

The graph is read statically (ast, nothing is imported): every `import` and `from ... import` of every module of
our packages, at module level or inside a function, `if TYPE_CHECKING:` included, relative ones resolved, and
`importlib.import_module("literal")` calls.
"""

from __future__ import annotations

import pytest
from house_tools import ANY, OUR_PACKAGES, check_house, import_graph, import_sites, module_files, rule

ERRORS = "lorecast.errors"
OUTPUT_DIR = "lorecast.output_dir"  # every package that writes an output dir shares its rules

# Read a row as: PACKAGE may import, of ours, OURS (an entry allows its submodules; its own package always);
# of third party, THIRD_PARTY (ANY: whatever it needs); and NEVER these. The standard library is always fine.
#
#   package         ours                                              third party                  never
HOUSE = {
    "lorecast": rule(
        ours={ERRORS, "dataset.commands", "trainer.commands", "ops.commands", "poster.commands"},
        third_party={"click"},
    ),
    "dataset": rule(
        ours={ERRORS, OUTPUT_DIR, "textrules"},
        # What it uses today: click (its commands) and tqdm, the base install; matplotlib, the `inspect` extra.
        third_party={"click", "tqdm", "matplotlib"},
        never={"torch", "transformers"},
    ),
    "textrules": rule(ours=(), third_party=()),  # standard library only: it is packed into every .mar
    "serve_handler": rule(
        ours={"textrules"},
        # The serve extra's runtime: TorchServe (ts), torch, transformers and the handler's small dependencies.
        third_party={"ts", "torch", "transformers", "safetensors", "rapidfuzz", "jsonschema", "profanity_check"},
        never={"click", "psutil", "requests"},
    ),
    # The selector learns from the posters' ledger; `train sample` takes `lorecast generate`'s sampling options,
    # the engagement options the ledger's --at-age.
    "trainer": rule(ours={ERRORS, OUTPUT_DIR, "dataset", "textrules", "serve_handler", "poster.ledger",
                          "poster.commands.sampling_options", "poster.commands.age_option"}, third_party=ANY),
    # The manifest check reads which env vars the poster commands take (ops/k8s_check.py).
    "ops": rule(ours={ERRORS, "dataset", "trainer", "serve_handler", "textrules", "poster.commands"},
                third_party=ANY),
    "poster": rule(
        ours={ERRORS, OUTPUT_DIR, "textrules"},
        # requests and the platform clients it chose, click, what `lorecast k8s secret` renders with, jsonschema
        # (the inference client parses answers by serve_handler/response_schema.json, read as data, not imported),
        # regex, whose \X counts the grapheme clusters of Bluesky's 300-grapheme limit, and matplotlib for the
        # charts of `lorecast ledger report` (the inspect extra; the poster image has none).
        third_party={"requests", "requests_oauthlib", "click", "kubernetes", "yaml", "jsonschema", "regex",
                     "matplotlib"},
        never={"torch", "transformers", "dataset", "trainer", "serve_handler", "ops"},
    ),
    "benchmarks": rule(ours=ANY, third_party=ANY),
}


def test_every_package_has_a_row():
    assert set(HOUSE) == set(OUR_PACKAGES)


def test_the_graph_covers_every_package():
    """A guard against a checker that passes because it saw nothing."""
    graph = import_graph(import_sites())
    assert {module.split(".")[0] for module in graph} == set(OUR_PACKAGES)
    assert "lorecast.errors" in graph["lorecast.cli"]
    assert "dataset.commands" in graph["lorecast.cli"]
    assert "ts.torch_handler.base_handler" in graph["serve_handler.handler"]
    # a function-level import is seen (the toxicity filter loads its model lazily)
    assert "profanity_check" in graph["serve_handler.filters.toxicity"]


def test_todays_tree_keeps_to_the_house():
    sites = import_sites()
    violations = check_house(import_graph(sites), HOUSE)
    located = [
        f"{site}  ({violation.reason})"
        for violation in violations
        for site in sites
        if site.module == violation.module and site.name == violation.name
    ]
    assert not violations, "imports outside the house table:\n" + "\n".join(located)


@pytest.mark.parametrize(
    ("module", "name", "reason"),
    [
        ("dataset.build", "serve_handler.novelty", "of ours, dataset may import only"),
        ("dataset.build", "torch", "dataset must never import torch"),
        ("dataset.corpus", "trainer.model_dir", "of ours, dataset may import only"),
        ("dataset.corpus", "lorecast.cli", "of ours, dataset may import only"),
        ("serve_handler.engine", "click", "serve_handler must never import click"),
        ("serve_handler.engine", "psutil", "serve_handler must never import psutil"),
        ("serve_handler.engine", "requests", "serve_handler must never import requests"),
        ("serve_handler.engine", "ops.archive", "of ours, serve_handler may import only textrules"),
        ("serve_handler.engine", "lorecast.errors", "of ours, serve_handler may import only textrules"),
        ("serve_handler.engine", "numba", "third-party numba is not in serve_handler's list"),
        ("poster.run", "torch", "poster must never import torch"),
        ("poster.run", "transformers.generation", "poster must never import transformers"),
        ("poster.run", "dataset.corpus", "poster must never import dataset"),
        ("poster.run", "ops", "poster must never import ops"),
        ("poster.run", "numpy", "third-party numpy is not in poster's list"),
        ("textrules.blocklist", "regex", "third-party regex is not in textrules's list (the standard library only)"),
        ("textrules.blocklist", "lorecast.errors", "of ours, textrules may import only nothing"),
        ("lorecast.cli", "dataset.build", "of ours, lorecast may import only"),
        ("lorecast.cli", "ops.local_server", "of ours, lorecast may import only"),
        ("lorecast.cli", "tqdm", "third-party tqdm is not in lorecast's list"),
        ("trainer.selector_training", "poster.run", "of ours, trainer may import only"),
        ("trainer.selector_training", "ops.archive", "of ours, trainer may import only"),
        ("trainer.sampling", "ops.commands.archive", "of ours, trainer may import only"),
        ("trainer.commands.train", "ops.local_server", "of ours, trainer may import only"),
        ("ops.archive", "poster.run", "of ours, ops may import only"),
        ("ops.archive", "lorecast.cli", "of ours, ops may import only"),
        ("elsewhere.module", "os", "has no row in the house table"),
    ],
)
def test_a_bad_arrow_is_reported(module, name, reason):
    graph = {module: {"json", "os", name}}
    violations = check_house(graph, HOUSE)
    reported = [v for v in violations if v.module == module and v.name in (name, "*")]
    assert len(reported) == 1, violations
    assert reason in reported[0].reason
    assert len(violations) == 1  # json and os, the standard library, pass


def test_a_bad_graph_reports_every_bad_arrow_and_only_those():
    graph = {
        "dataset.build": {"serve_handler.novelty", "textrules.blocklist", "lorecast.errors", "tqdm", "json"},
        "serve_handler.engine": {"click", "torch", "textrules.forms", "serve_handler.request"},
        "poster.run": {"torch", "requests", "lorecast.errors", "poster.ledger"},
        "trainer.selector_ledger": {"poster.ledger", "dataset.corpus", "serve_handler.selector", "torch"},
        "benchmarks.novelty_bench": {"ops.archive", "poster.run", "torch", "anything"},
        "lorecast.cli": {"click", "dataset.commands", "ops.commands", "lorecast.errors"},
    }
    reported = {(v.module, v.name) for v in check_house(graph, HOUSE)}
    assert reported == {
        ("dataset.build", "serve_handler.novelty"),
        ("serve_handler.engine", "click"),
        ("poster.run", "torch"),
    }


def test_allowed_arrows_pass():
    graph = {
        "trainer.selector_ledger": {"poster.ledger", "lorecast.errors", "sqlite3"},
        "ops.archive": {"serve_handler.layout", "dataset.blocklist_files", "trainer.model_dir", "yaml"},
        "poster.platforms.twitter": {"requests_oauthlib", "textrules.blocklist", "lorecast.errors"},
        "textrules.forms": {"unicodedata", "re", "textrules.sentences"},
    }
    assert check_house(graph, HOUSE) == []


def test_relative_and_literal_imports_are_resolved(tmp_path):
    from house_tools import imports_of

    package = tmp_path / "pkg" / "sub"
    package.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "other.py").write_text("")
    source = package / "mod.py"
    source.write_text(
        "from __future__ import annotations\n"
        "import importlib\n"
        "from . import other\n"
        "from .. import thing\n"
        "from ..sub.other import name\n"
        "def later():\n"
        "    import torch.nn\n"
        "    return importlib.import_module('click')\n"
    )
    modules = module_files(tmp_path, ["pkg"])
    names = {(site.name, site.line) for site in imports_of("pkg.sub.mod", source, modules)}
    assert names == {
        ("importlib", 2), ("pkg.sub.other", 3), ("pkg", 4), ("pkg.sub.other", 5), ("torch.nn", 7), ("click", 8),
    }
