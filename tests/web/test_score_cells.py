"""A list's score cell (lamina.web.pages.scores.Column.td), written in Python rather than
by a template: a score's name and label are user text, escaped as the templates would."""

from __future__ import annotations

from lamina.store.scores import OUTCOME
from lamina.web.pages.scores import Column

MARKUP = '<img src=x onerror="alert(1)">'


def test_names_and_labels_are_text() -> None:
    row = {"score_summary": {MARKUP: {"avg": 0.5, "count": 2}}}
    cell = str(Column(MARKUP, None).td(row))
    assert "<img" not in cell
    assert 'data-score="&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"' in cell
    assert 'title="&lt;img src=x onerror=&#34;alert(1)&#34;&gt;: average of 2 scores">0.50<' in cell
    assert str(Column(MARKUP, None).td({})).endswith('<span class="faint">—</span></td>')


def test_a_label_is_a_chip() -> None:
    row = {"score_summary": {"outcome": {"avg": 0.0, "count": 1, "labels": ["failure"]}}}
    cell = str(Column("outcome", OUTCOME).td(row))
    assert cell == (
        '<td class="num c-score" data-score="outcome"><span class="score-chip score-b0" '
        'title="outcome: failure (1 score)">failure</span></td>'
    )
