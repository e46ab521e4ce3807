"""The roadmap picture: one box per layer, labelled with its chapter (display only).

A chapter whose notebook is not written yet is drawn dashed and faded, and says so.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from ..roadmap import CHAPTERS

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def written_chapters() -> set[int]:
    """The chapters whose notebook exists (all of them when the notebooks are not beside
    the package, e.g. an installed wheel: then nothing is marked as missing)."""
    if not NOTEBOOKS.is_dir():
        return {c[0] for c in CHAPTERS}
    return {num for num, name, _, _ in CHAPTERS if (NOTEBOOKS / f"{name}.ipynb").exists()}

_W, _H, _GAP = 430, 26, 4


def roadmap_svg(highlight: int | None = None, written: set[int] | None = None) -> str:
    """SVG of the layer stack, chapter 11 on top; ``highlight`` marks one chapter;
    chapters not in ``written`` (default: the notebooks that exist) are marked "coming"."""
    written = written_chapters() if written is None else set(written)
    layers = [c for c in CHAPTERS if c[0] != 12][::-1]
    height = len(layers) * (_H + _GAP) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="dos64lab-roadmap" width="{_W + 190}" '
           f'height="{height + 20}" font-family="sans-serif" font-size="12">']
    for i, (num, _, layer, package) in enumerate(layers):
        y = 5 + i * (_H + _GAP)
        ready = num in written
        fill = "#ffd166" if num == highlight else "#e8f1fb" if ready else "#f7f7f7"
        dash = "" if ready else ' stroke-dasharray="4 3"'
        ink = "#000" if ready else "#999"
        out.append(f'<g class="chapter" data-chapter="{num}" data-written="{str(ready).lower()}">'
                   f'<rect x="5" y="{y}" width="{_W}" height="{_H}" rx="4" fill="{fill}" '
                   f'stroke="{"#36c" if ready else "#aaa"}"{dash}/>')
        out.append(f'<text x="14" y="{y + 17}" fill="{ink}"><tspan font-weight="bold">'
                   f'{num:02d}</tspan>  {escape(layer)}</text>')
        right = f"dos64lab.{package}" if ready else "coming: not written yet"
        style = "normal" if ready else "italic"
        out.append(f'<text x="{_W - 8}" y="{y + 17}" text-anchor="end" fill="#666" '
                   f'font-style="{style}">{escape(right)}</text></g>')
    # chapter 12 spans the whole stack: the same layers, natively in the kernel
    ready = 12 in written
    fill = "#ffd166" if highlight == 12 else "#eee" if ready else "#f7f7f7"
    dash = "" if ready else ' stroke-dasharray="4 3"'
    out.append(f'<g class="chapter" data-chapter="12" data-written="{str(ready).lower()}">'
               f'<rect x="{_W + 15}" y="5" width="170" height="{height - 14}" rx="4" '
               f'fill="{fill}" stroke="#999"{dash}/>')
    out.append(f'<text x="{_W + 100}" y="{height / 2}" text-anchor="middle">'
               '<tspan font-weight="bold">12</tspan> native kernel:</text>')
    out.append(f'<text x="{_W + 100}" y="{height / 2 + 16}" text-anchor="middle">'
               'the same layers in C</text>')
    if not ready:
        out.append(f'<text x="{_W + 100}" y="{height / 2 + 34}" text-anchor="middle" '
                   'fill="#666" font-style="italic">coming: not written yet</text>')
    out.append("</g>")
    missing = sorted(c[0] for c in CHAPTERS if c[0] not in written)
    if missing:
        out.append(f'<text x="5" y="{height + 12}" fill="#666" font-size="11">dashed: '
                   f'chapters not written yet ({", ".join(f"{n:02d}" for n in missing)})</text>')
    return "\n".join(out + ["</svg>"])


def show_roadmap(highlight: int | None = None):
    """Display the roadmap in a notebook."""
    from IPython.display import SVG
    return SVG(roadmap_svg(highlight))
