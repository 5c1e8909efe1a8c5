"""How numbers are written in messages and reports: one formatter, :func:`num`, and
:func:`percent` for shares. (Here, not in ``render/``: the diagnostics' messages use them.)

>>> percent(0.31), percent(3.4e-7), percent(None), num(914014.2), num(5.0), num(None)
('31.0%', '3.4e-05%', '—', '914,014', '5', '—')
>>> num(12345), num(0.123456, 4), num(914014.2, 4, group_large=False)
('12,345', '0.1235', '9.14e+05')
>>> count(1, "iteration"), count(10233, "rollout"), count(2, "empty file")
('1 iteration', '10,233 rollouts', '2 empty files')
"""

from __future__ import annotations


def percent(x: float | None) -> str:
    """A share as a percentage that stays readable when tiny: 31.0%, 3.4e-05%; "—" for
    none (a share of nothing: an iteration with no reward spread)."""
    if x is None or x != x:  # None, or NaN
        return "—"
    return f"{x:.1%}" if x >= 0.001 or x == 0 else f"{x * 100:.2g}%"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """A count with its noun, the one way counts are written: thousands separators
    (:func:`num`) and the singular for one ("1 iteration", "1,024 groups")."""
    return f"{num(int(n))} {noun if n == 1 else plural or noun + 's'}"


def num(x: float | None, digits: int = 3, *, group_large: bool = True) -> str:
    """``digits`` significant digits; a whole number (``int``) with thousands separators;
    "—" for none. With ``group_large``, values of 1,000 or more are written out, not in
    scientific notation (1,000 not 1e+03)."""
    if x is None:
        return "—"
    if isinstance(x, int):
        return f"{x:,}"
    if group_large and abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"
