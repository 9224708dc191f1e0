"""What people read: the plan of a dry run and the status table of a campaign.
Programs read the contract's JSON instead (`--json`)."""

from __future__ import annotations

from typing import Any

from ingest.plan import TEXT_MAX_CHARS, Plan
from laaffic_batch.redact import mask_number


def _n(value: int) -> str:
    return f"{value:,}"


def render_plan(plan: Plan) -> str:
    lines = [
        f"Plan for {plan.source}  (campaign {plan.campaign})",
        f"  phone column: {plan.columns.phone}"
        + (f"; texts: {', '.join(f'{k}={v}' for k, v in plan.columns.texts.items())}"
           if plan.columns.texts else ""),
        f"  rows {_n(plan.rows)} = accepted {_n(plan.accepted)} + rejected "
        f"{_n(plan.rejected)} + duplicates {_n(plan.duplicates)}",
    ]
    if plan.truncated_texts:
        lines.append(f"  text values cut to {TEXT_MAX_CHARS} characters: "
                     f"{_n(plan.truncated_texts)}")
    if plan.reject_reasons:
        from ingest.numbers import REASONS

        lines.append("  rejects by reason:")
        for code, count in plan.reject_reasons.items():
            lines.append(f"    {code:<30} {_n(count):>12}  {REASONS.get(code, '')}")
    sizes = sorted({c.count for c in plan.chunks})
    lines.append(f"  chunks: {len(plan.chunks)}"
                 + (f" of {' / '.join(_n(s) for s in sizes)} numbers" if sizes else ""))
    for chunk in plan.chunks:
        lines.append(f"    {chunk.index:>4}  {chunk.task_name:<64}  {_n(chunk.count):>9}")
    lines.append(f"  rejects file: {plan.rejects_file}")
    if plan.duplicates:
        lines.append(f"  duplicates file: {plan.duplicates_file}")
    if plan.preview:
        lines.append("  first entries:")
        for entry in plan.preview:
            texts = "  ".join(f"{k}={v}" for k, v in entry.items() if k != "calleeNumber")
            lines.append(f"    {mask_number(entry['calleeNumber']):>18}  {texts}".rstrip())
    return "\n".join(lines)


def render_status(view: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    chunks = view["chunks"]
    states: dict[str, int] = {}
    for chunk in chunks:
        states[chunk["state"]] = states.get(chunk["state"], 0) + 1
    summary = ", ".join(f"{state} {count}" for state, count in sorted(states.items()))
    lines = [
        f"Campaign {view['campaign']}"
        + (f"  [{extra['state']}]" if extra and extra.get("state") else ""),
        f"  rows {_n(view['rows'])} = accepted {_n(view['accepted'])} + rejected "
        f"{_n(view['rejected'])} + duplicates {_n(view['duplicates'])}",
        f"  chunks: {len(chunks)} ({summary})" if chunks else "  chunks: none",
        f"  {'#':>4}  {'task name':<40} {'count':>9}  {'state':<10} {'key id':>12} "
        f"{'tries':>5}  error",
    ]
    for chunk in chunks:
        error = chunk.get("error")
        error_text = ""
        if error:
            error_text = " ".join(str(v) for v in (error.get("status"), error.get("reason")) if v)
        key_id = chunk.get("key_id")
        lines.append(
            f"  {chunk['index']:>4}  {chunk['task_name']:<40} {_n(chunk['count']):>9}  "
            f"{chunk['state']:<10} {key_id if key_id is not None else '-':>12} "
            f"{chunk['attempts']:>5}  {error_text}".rstrip()
        )
    lines.append(f"  rejects file: {view['rejects_file']}")
    return "\n".join(lines)
