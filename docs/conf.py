"""Sphinx configuration of the documentation site (``python3 dev.py docs``)."""

from __future__ import annotations

import os
from pathlib import Path

# autodoc imports Airflow: keep its home (airflow.cfg) inside the build folder, not in ~/airflow
os.environ.setdefault("AIRFLOW_HOME", str(Path(__file__).resolve().parent / "_build" / "airflow-home"))

import airflow_provider_bc  # after AIRFLOW_HOME is set

project = "airflow-provider-business-central"
author = "airflow-provider-business-central developers"
copyright = "2026, airflow-provider-business-central developers"
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
