"""`lorecast dataset inspect`: an HTML report with charts about a corpus dir."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("inspect")
@click.argument("corpus_dir", metavar="CORPUS_DIR", type=click.Path(path_type=Path))
@click.option(
    "--against",
    "generated_file",
    metavar="GENERATED.txt",
    type=click.Path(path_type=Path),
    help="Compare with generated text (one text per line, e.g. model samples): every statistic is "
    "shown for both, plus n-gram overlap with train.txt and the share of lines copied verbatim.",
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    metavar="REPORT",
    type=click.Path(path_type=Path),
    help="Report dir to write: index.html plus the PNG charts it shows. Created if missing; "
    "a previous report there is replaced.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into REPORT even if it is a non-empty dir that holds no previous report.",
)
def inspect(corpus_dir: Path, generated_file: Path | None, out_dir: Path, force: bool) -> None:
    """Write an HTML report with charts about CORPUS_DIR: example lengths, top words, type/token
    ratios and, with --against, how much of the generated text occurs in the training set.

    Prints the path of the report's index.html.
    """
    # Imported here so that `lorecast --help` does not load matplotlib.
    from dataset.report.writer import read_generated, write_report

    generated = read_generated(generated_file) if generated_file is not None else None
    index = write_report(
        corpus_dir,
        out_dir,
        generated,
        generated_name=str(generated_file) if generated_file else "generated text",
        force=force,
    )
    click.echo(index)
