"""A self-contained HTML page of a model review (images embedded, no external links)."""

from __future__ import annotations

import base64
from html import escape


def _table(headers: list[str], rows: list[list[str]] | list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_review_html(review) -> str:
    sections = [
        f"<h1>Review of {escape(review.name)} version {escape(review.candidate.version)}</h1>",
        _table(["", "challenger", "champion"], review.summary_rows()),
    ]
    for table in review.tables():
        sections.append(f"<h2>{escape(table.title)}</h2>")
        sections.append(_table(list(table.headers), table.rows))
    if review.charts:
        sections.append(f"<h2>{escape(review.content.charts_title)}</h2>")
        for png in review.charts:
            data = base64.b64encode(png).decode()
            sections.append(f'<img alt="chart" src="data:image/png;base64,{data}">')
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "img{max-width:48%;margin:4px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Review "
        f"{escape(review.name)}</title><style>{style}</style></head><body>"
        + "".join(sections)
        + "</body></html>"
    )
