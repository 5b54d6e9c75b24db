"""The progress a run shows after each page: where it is, how fast it goes, how long is left."""

from __future__ import annotations


def page_progress(
    current: dict,
    *,
    step_name: str,
    label: str,
    page: int,
    records: int,
    total_records: int | None,
    records_per_second: float | None,
) -> dict:
    """The run's progress after a page of ``records`` records of step ``step_name``.

    ``current`` is the run's progress so far; ``total_records`` the step's total when the
    listing says (else the last one said is kept); ``records_per_second`` this process's rate,
    from which the step's remaining time is estimated."""
    previous = current if current.get("step") == step_name else {}
    step_records = previous.get("step_records", 0) + records
    total = total_records if total_records is not None else previous.get("step_total")
    rate = records_per_second
    eta = max(total - step_records, 0) / rate if rate and total else None
    return {
        "step": step_name,
        "entity": label,
        "page": page,
        "pages": current.get("pages", 0) + 1,
        "step_records": step_records,
        "step_total": total,
        "records": current.get("records", 0) + records,
        "records_per_second": round(rate, 1) if rate else None,
        "eta_seconds": round(eta) if eta is not None else None,
    }
