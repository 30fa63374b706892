"""The loss curve as inline SVG, rendered on the server (no Django, no JavaScript, no plotting library)."""

from __future__ import annotations

from html import escape


def loss_curve_svg(points: list[tuple[float, float]], *, width: int = 640, height: int = 240, title: str = "Training loss") -> str:
    """A line chart of (epoch, loss); every number in it is formatted here, so it is safe to inline."""
    left, right, top, bottom = 56, 16, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    head = (f'<svg class="loss-curve" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>')
    if not points:
        return head + f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">No steps yet</text></svg>'
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_lo, x_hi = 0.0, max(max(xs), 1.0)
    y_lo, y_hi = min(ys), max(ys)
    if y_hi - y_lo < 1e-9:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5

    def sx(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    def sy(y: float) -> float:
        return top + (y_hi - y) / (y_hi - y_lo) * plot_h

    parts = [head, f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>']
    for fraction in (0.0, 0.5, 1.0):
        value = y_lo + fraction * (y_hi - y_lo)
        parts.append(f'<text x="{left - 6}" y="{sy(value) + 4:.1f}" text-anchor="end" font-size="11">{value:.3f}</text>')
    for epoch in range(0, int(x_hi) + 1, max(1, int(x_hi) // 8 or 1)):
        parts.append(f'<text x="{sx(epoch):.1f}" y="{height - bottom + 16}" text-anchor="middle" font-size="11">{epoch}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle" font-size="11">epoch</text>')
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    parts.append(f'<polyline class="loss-line" fill="none" stroke="#2563eb" stroke-width="2" points="{path}"/>')
    if len(points) == 1:
        parts.append(f'<circle cx="{sx(xs[0]):.1f}" cy="{sy(ys[0]):.1f}" r="3" fill="#2563eb"/>')
    parts.append("</svg>")
    return "".join(parts)
