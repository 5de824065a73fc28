"""Convert Debian's `jargon-text` (Jargon File 4.4.7) into the shipped demo corpus.

How the shipped `jargon-4.4.7.jsonl` was made (rerunnable, needs Debian's archive only):

    apt-get download jargon-text && dpkg -x jargon-text_*.deb /tmp/jargon
    python dataset/demo/convert_jargon.py \
        /tmp/jargon/usr/share/doc/jargon-text/jargon.txt.gz dataset/demo/jargon-4.4.7.jsonl

The lexicon entries sit between the first `   :headword: ...` line and "Part III. Appendices".
Each becomes one JSON object {"headword", "grammar", "definition"}: the definition's wrapped
lines are joined, no-break spaces become spaces, and the `{cross reference}` braces are dropped.
The per-letter headword indexes (a line indented by two spaces, then a list) are skipped.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

ENTRY_HEADER = re.compile(r"^   :(?P<headword>[^:]+):\s*(?P<grammar>.*)$")
LETTER_INDEX = re.compile(r"^  \S")  # "  B": start of a letter's headword index
APPENDICES = re.compile(r"Part\s+III\.\s+Appendices")
CROSS_REFERENCE = re.compile(r"\{([^{}]*)\}")


def _finish(entry: dict, lines: list[str]) -> dict:
    text = " ".join(lines)
    text = CROSS_REFERENCE.sub(r"\1", text.replace("\u00a0", " "))
    entry["definition"] = re.sub(r"\s+", " ", text).strip()
    return entry


def convert(lines: list[str]) -> list[dict]:
    entries: list[dict] = []
    current: dict | None = None
    body: list[str] = []
    for line in lines:
        line = line.rstrip("\n")
        header = ENTRY_HEADER.match(line)
        if header or LETTER_INDEX.match(line) or APPENDICES.search(line):
            if current is not None:
                entries.append(_finish(current, body))
            current, body = None, []
            if APPENDICES.search(line):
                break
            if header:
                grammar = header["grammar"].replace("\u00a0", " ").strip()
                current = {"headword": header["headword"].strip(), "grammar": grammar}
            continue
        if current is not None and line.strip():
            body.append(line.strip())
    return [e for e in entries if e["definition"]]


def main(source: str, target: str) -> None:
    opener = gzip.open if source.endswith(".gz") else open
    with opener(source, "rt", encoding="utf-8") as handle:
        entries = convert(handle.readlines())
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        for entry in entries:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    print(f"{len(entries)} entries -> {Path(target)}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: convert_jargon.py JARGON_TXT[.gz] OUT.jsonl")
    main(sys.argv[1], sys.argv[2])
