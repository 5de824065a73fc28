"""Contract 4: what a lorecast `.mar` holds, as paths inside the archive.

TorchServe extracts the archive and hands the handler that directory as `system_properties["model_dir"]`;
`lorecast archive` writes these paths and `lorecast archive --check` verifies them.

    handler.py               the TorchServe entry (one class); the same file is also in serve_handler/
    serve_handler/           this package, unflattened, so handler.py imports it absolutely
    textrules/               the text rules it shares with the corpus build (blocklist, sentences, normal forms)
    generator/               the model dir (contract 2) without lorecast-training.json: config.json,
                             generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json
    selector/                optional: the selector dir (contract 3: selector.json, selector.safetensors)
    words.txt                seed words, "word<TAB>count<TAB>form" per line, most frequent first (the corpus's
                             words.txt)
    novelty.txt              the novelty index over the corpus's train.txt lines and all their sentences, built by
                             `lorecast archive` (plain text, no pickles: its format is in novelty.py), so that
                             the worker only reads it
    blocklist.txt            blocked terms, one per line ('#' starts a comment); may be empty
    model-config.yaml        TorchServe's model settings plus a `handler:` section (see settings.py)
    lorecast-archive.json    what went in: sha256 and size of every file above, the model's training metadata,
                             the corpus's content hash, the lorecast version
    MAR-INF/MANIFEST.json    written by torch-model-archiver
"""

from __future__ import annotations

HANDLER = "handler.py"
PACKAGE_DIR = "serve_handler"
RULES_DIR = "textrules"
GENERATOR_DIR = "generator"
SELECTOR_DIR = "selector"
SEED_WORDS = "words.txt"
NOVELTY_SENTENCES = "novelty.txt"
BLOCKLIST = "blocklist.txt"
MODEL_CONFIG = "model-config.yaml"
ARCHIVE_MANIFEST = "lorecast-archive.json"
MAR_MANIFEST = "MAR-INF/MANIFEST.json"

# What a .mar (and a selector dir packed into it) must never hold: files that unpickle, i.e. run code, on load.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")

GENERATOR_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                   "tokenizer_config.json")

# Every file a served archive needs; `lorecast archive --check` fails when one is missing.
REQUIRED = (
    HANDLER,
    f"{PACKAGE_DIR}/__init__.py",
    f"{PACKAGE_DIR}/{HANDLER}",
    f"{RULES_DIR}/__init__.py",
    *(f"{GENERATOR_DIR}/{name}" for name in GENERATOR_FILES),
    SEED_WORDS,
    NOVELTY_SENTENCES,
    BLOCKLIST,
    MODEL_CONFIG,
    ARCHIVE_MANIFEST,
    MAR_MANIFEST,
)
