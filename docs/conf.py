"""Sphinx configuration of the documentation site (``python3 dev.py docs``)."""

from __future__ import annotations

import airflow_provider_bc

project = "airflow-provider-business-central"
author = "airflow-provider-business-central developers"
copyright = "2026, airflow-provider-business-central developers"  # noqa: A001 (Sphinx's name)
release = airflow_provider_bc.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 4

html_theme = "furo"
html_title = f"Business Central provider {release}"
