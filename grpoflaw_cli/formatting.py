"""Number formatting shared by messages and renderers.

>>> percent(0.31), percent(3.4e-7), percent(None), num(914014.2), num(5.0)
('31.0%', '3.4e-05%', '—', '914,014', '5')
"""

from __future__ import annotations


def percent(x: float | None) -> str:
    """A share as a percentage that stays readable when tiny: 31.0%, 3.4e-05%; "—" for
    none (a share of nothing: an iteration with no reward spread)."""
    if x is None or x != x:  # None, or NaN
        return "—"
    return f"{x:.1%}" if x >= 0.001 or x == 0 else f"{x * 100:.2g}%"


def num(x: float) -> str:
    """3 significant digits, without scientific notation for large values (1,000 not 1e+03)."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"
