"""Report: summary tables, figures, the front page and the docs' tables."""
