"""What the benchmarks share for writing their results: markdown tables, JSON files, figures,
the hand-written notes kept in ``results/*.md`` and a paired bootstrap interval.

Hand-written prose (tuning logs, observations on a committed run, caveats) lives in markdown
files under ``benchmarks/results/``, never in Python literals. A renderer pulls the parts it
prints from such a file by heading:

* :func:`bullets` -- the items of a list under a heading (an item starts with ``- ``; lines
  indented by two spaces continue it, joined with one space);
* :func:`paragraph` -- the prose under a heading, its lines joined with one space;
* :func:`table_rows` -- the body rows of every markdown table in the file, as lists of cells.
"""

import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------- markdown tables
def md_row(cells):
    """``| a | b |``."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def md_table(head, rows=(), align=None):
    """Lines of a markdown table: the header, the separator (``align``: one character per
    column, ``l`` for ``---`` and ``r`` for ``---:``; default all ``l``) and one line per row."""
    align = align or "l" * len(head)
    sep = "|" + "".join("---:|" if a == "r" else "---|" for a in align)
    return [md_row(head), sep] + [md_row(r) for r in rows]


# --------------------------------------------------------------------------- notes in results/
def _section(path, heading):
    """The lines under ``heading`` (any ``#`` level) up to the next heading."""
    lines = Path(path).read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#") and line.lstrip("#").strip() == heading:
            body = []
            for rest in lines[i + 1:]:
                if rest.startswith("#"):
                    break
                body.append(rest)
            return body
    raise KeyError(f"no heading {heading!r} in {path}")


def bullets(path, heading):
    """The items of the list under ``heading`` in the markdown file ``path``."""
    items = []
    for line in _section(path, heading):
        if line.startswith("- "):
            items.append(line[2:])
        elif line.lstrip().startswith("- ") and items:     # a nested item keeps its line
            items[-1] += "\n" + line.rstrip()
        elif line.startswith("  ") and line.strip() and items:
            items[-1] += " " + line.strip()
    return items


def paragraph(path, heading):
    """The prose under ``heading``, its lines joined with one space."""
    return " ".join(line.strip() for line in _section(path, heading) if line.strip())


def table_rows(path):
    """Body rows (lists of stripped cells) of every markdown table in ``path``, in order."""
    lines = Path(path).read_text().splitlines()
    rows = []
    for i, line in enumerate(lines):
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue                                               # prose or a separator
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if nxt.startswith("|") and set(nxt) <= set("|-: "):
            continue                                               # a header
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


# --------------------------------------------------------------------------- command line, JSON
def output_args(parser, render=None):
    """``--out DIR`` (default ``results/``) and, when ``render`` names what a results JSON file
    can rewrite (e.g. ``"the report and the plots"``), ``--render JSON``."""
    parser.add_argument("--out", default=str(RESULTS), help="output folder")
    if render:
        parser.add_argument("--render", default=None, metavar="JSON",
                            help=f"only rewrite {render} from a results JSON file")


def render_json(path, write, name):
    """``write(results, folder, suffix)`` on a results JSON file ``folder/NAME{suffix}.json``."""
    path = Path(path)
    return write(read_json(path), path.parent, path.stem[len(name):])


def write_json(path, data, indent=1, default=None, newline=False):
    """``data`` as JSON in ``path`` (``default=str`` for values JSON has no type for)."""
    Path(path).write_text(json.dumps(data, indent=indent, default=default)
                          + ("\n" if newline else ""))


def read_json(path):
    return json.loads(Path(path).read_text())


# --------------------------------------------------------------------------- figures
def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, dpi=110):
    """Write ``fig`` to ``path`` and close it; returns ``path``."""
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


# --------------------------------------------------------------------------- intervals
def paired_bootstrap(stat, n, level=0.95, n_boot=10000, seed=0):
    """Percentile interval ``(lo, hi)`` of ``stat(idx)`` over ``n_boot`` resamples ``idx (n_boot,
    n)`` of ``n`` paired items (origins, test series) drawn with replacement; ``stat`` maps the
    index array to one value per resample, using the same draw for every method it compares."""
    idx = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    lo, hi = np.percentile(stat(idx), [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)
