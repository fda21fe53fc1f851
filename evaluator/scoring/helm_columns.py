"""HELM's names for a result's figures: the `core_scenarios` columns ("MMLU - EM",
"TruthfulQA - EM (Robustness)", ...) that the 2023 organizers ranked on.

HELM's summary gives a group's metric as the mean over the group's run specs, computed on the
main split; Podium's scenario score is that same mean, and `<metric>@robustness` /
`<metric>@fairness` are HELM's worst-case "(Robustness)" / "(Fairness)" variants. So a board of
`podium eval` results can be handed to `podium rank` under the organizers' column names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from evaluator.results import RunSpecScore

#: Podium scenario group -> HELM's display name of the run group.
HELM_GROUP_NAMES: Mapping[str, str] = {
    "mmlu": "MMLU",
    "truthful_qa": "TruthfulQA",
    "big_bench": "BIG-bench",
    "gsm": "GSM8K",
    "bbq": "BBQ",
}
#: Podium metric -> HELM's display name, for the metrics the 2023 ranking used.
HELM_METRIC_NAMES: Mapping[str, str] = {
    "exact_match": "EM",
    "exact_match@robustness": "EM (Robustness)",
    "exact_match@fairness": "EM (Fairness)",
    "final_number_exact_match": "EM",
}


def helm_columns(per_run_spec: Mapping[str, RunSpecScore]) -> dict[str, float]:
    """`"<HELM group> - <HELM metric>"` -> the mean over the group's run specs that have it.

    GSM8K's "EM" is its main metric (final-number match), as in HELM's core_scenarios."""
    sums: dict[str, list[float]] = {}
    for score in per_run_spec.values():
        group = HELM_GROUP_NAMES.get(score.group)
        if group is None:
            continue
        for metric, label in HELM_METRIC_NAMES.items():
            value = score.metrics.get(metric)
            if value is None or math.isnan(value):
                continue
            if label == "EM" and metric != score.main_metric:
                continue
            sums.setdefault(f"{group} - {label}", []).append(value)
    return {column: math.fsum(values) / len(values) for column, values in sums.items()}
