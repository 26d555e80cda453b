"""Views of a report (terminal, HTML). Rendering only: every number comes from the report."""
