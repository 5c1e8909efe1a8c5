"""Renderers: turn an analysis and its flags into terminal tables, JSON/CSV text or HTML.

Renderers return renderables or strings; only the CLI prints or writes them.
"""
