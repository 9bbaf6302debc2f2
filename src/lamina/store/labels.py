"""Tags and metadata given to a stored trace after it ended (#24: Laminar's
``POST /v1/tag`` and ``POST /v1/traces/metadata``, lamina.web.laminar.traces).

They change the trace's summary, where its spans' tags and metadata are gathered
(lamina.spans.summaries), so the lists show them and their filters find them: the tags
are added to the trace's, and each metadata key is set, ranked below any span's (a
span's rank is its start time, the root's lowered by 2**62) and below any earlier
change's, so the latest change wins whatever arrives after it. The spans are not
changed (an export holds the tags and metadata its spans carried).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

from lamina.spans.summaries import ROOT_BONUS

MAX_TAGS = 50
MAX_KEYS = 50


@dataclass(frozen=True, slots=True)
class TraceLabels:
    tags: tuple[str, ...]
    metadata: Mapping[str, str]  # key -> value as text, as spans' metadata holds it
    at_ns: int  # when they were given: a later change outranks an earlier one

    @property
    def rank(self) -> int:
        """Lower than every span's rank (a root's is its start less 2**62)."""
        return -ROOT_BONUS - self.at_ns

    def ranked_metadata(self) -> str:
        """The metadata as the summaries rank it: ``{key: [rank, value]}``."""
        return orjson.dumps({k: [self.rank, v] for k, v in self.metadata.items()}).decode()


def merged_tags(stored: Sequence[str], added: Sequence[str]) -> list[str]:
    return sorted(set(stored) | set(added))
