"""Renderers: turn the report (:mod:`grpoflaw_cli.result`) into terminal screens or HTML.

:mod:`.terminal` (Rich), :mod:`.html` (Plotly), :mod:`.inspect` (the ``inspect`` screen),
:mod:`.estimators` (the ``estimators`` table), :mod:`.formats` (JSON and CSV text),
:mod:`.console` (the consoles they print on); :mod:`.common` holds what they share.
Renderers return renderables or strings; only the CLI prints or writes them.
"""
