"""The roadmap picture: one box per layer, labelled with its chapter (display only)."""

from html import escape

from ..roadmap import CHAPTERS

_W, _H, _GAP = 430, 26, 4


def roadmap_svg(highlight: int | None = None) -> str:
    """SVG of the layer stack, chapter 11 on top; ``highlight`` marks one chapter."""
    layers = [c for c in CHAPTERS if c[0] != 12][::-1]
    height = len(layers) * (_H + _GAP) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W + 190}" height="{height}" '
           'font-family="sans-serif" font-size="12">']
    for i, (num, _, layer, package) in enumerate(layers):
        y = 5 + i * (_H + _GAP)
        fill = "#ffd166" if num == highlight else "#e8f1fb"
        out.append(f'<rect x="5" y="{y}" width="{_W}" height="{_H}" rx="4" fill="{fill}" '
                   'stroke="#36c"/>')
        out.append(f'<text x="14" y="{y + 17}"><tspan font-weight="bold">{num:02d}</tspan>'
                   f'  {escape(layer)}</text>')
        out.append(f'<text x="{_W - 8}" y="{y + 17}" text-anchor="end" fill="#666">'
                   f'dos64lab.{escape(package)}</text>')
    # chapter 12 spans the whole stack: the same layers, natively in the kernel
    fill = "#ffd166" if highlight == 12 else "#eee"
    out.append(f'<rect x="{_W + 15}" y="5" width="170" height="{height - 14}" rx="4" '
               f'fill="{fill}" stroke="#999"/>')
    out.append(f'<text x="{_W + 100}" y="{height / 2}" text-anchor="middle">'
               '<tspan font-weight="bold">12</tspan> native kernel:</text>')
    out.append(f'<text x="{_W + 100}" y="{height / 2 + 16}" text-anchor="middle">'
               'the same layers in C</text>')
    return "\n".join(out + ["</svg>"])


def show_roadmap(highlight: int | None = None):
    """Display the roadmap in a notebook."""
    from IPython.display import SVG
    return SVG(roadmap_svg(highlight))
