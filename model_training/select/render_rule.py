"""The selection rule without real frames (`--tiny` runs only: `make train` always has real frames and uses
select/real_rule.py): the best mean Pearson on the select split's synthetic samples (or renders, when present)."""

from __future__ import annotations

TIE = 0.005  # mean-Pearson difference on the select split below which arms count as tied


def first_stage_pick(arms: dict, data: dict) -> tuple[str, str, str]:
    """(kept arm, set it was chosen on, rule text). Test sets are reported, never used to decide.

    Arms within TIE of the best on that set count as tied; among them the one that also reads ideal geometry best
    (val_geometric) wins, as the less render-specific model (real photos are neither renders nor ideal geometry).
    """
    sel = "render_val" if "render_val" in data else "val"
    best = max(arms[k][sel]["pearson_mean"] for k in arms)
    tied = [k for k in arms if arms[k][sel]["pearson_mean"] >= best - TIE]
    keep = max(tied, key=lambda k: arms[k]["val_geometric"]["pearson_mean"])
    return keep, sel, f"best {sel} mean Pearson; arms within {TIE} of it are tied and val_geometric decides"
