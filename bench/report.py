"""The Markdown report (bench/results/latest.md) and its JSON twin (latest.json)."""
from __future__ import annotations

import datetime as dt
import json
import platform
import subprocess
from dataclasses import asdict

from bench.booking_data import SLOT_MINUTES
from bench.paths import RESULTS, ROOT
from bench.profiling import markdown as profile_markdown
from bench.wrkrun import Measurement

# Product requirement: booking into slotted schedules may cost at most 10% of the booking
# ratio to the ceiling (both measured in the same run).
SLOTTED_MIN_SHARE = 0.9
# Booking with the person quotas and no-show credit on keeps 90% of the rate without them.
QUOTAS_MIN_SHARE = 0.9


def statuses_text(m: Measurement) -> str:
    """'200: 1234, 409 schedule_full: 56, 5xx: 0' (5xx always shown for writes)."""
    parts = []
    for key, n in m.statuses().items():
        parts.append(f"{key.replace(':', ' ')}: {n}")
    if m.name.startswith("POST /registrations/ ") or m.count_5xx():
        parts.append(f"5xx: {m.count_5xx()}")
    errors = m.socket_errors()
    if errors:
        parts.append("socket " + ", ".join(f"{k} {v}" for k, v in errors.items()))
    return ", ".join(parts)


def _commit() -> str:
    try:
        return subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "?"


def _cpu(m: Measurement) -> str:
    cpu = m.cpu()
    return " / ".join(f"{cpu.get(k, 0.0):.2f}" for k in ("server", "postgres", "wrk", "others"))


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _booking_lines(b: dict, ceiling: float | None) -> list[str]:
    """The booking section's bullets: scenarios, the slotted comparison, the SQL checks."""
    out = []
    for sc in b["scenarios"]:
        where = (f"{sc['schedules']} new slotted schedules ({sc['slots']} slots of "
                 f"{SLOT_MINUTES} min; half the requests name a random slot, half take the "
                 "earliest free one)" if sc["kind"] == "slotted"
                 else f"{sc['schedules']} random future schedules")
        out.append(f"- {sc['kind']}: {where}, {sc['free_places_before']} free places before, "
                   f"5xx: {sc['5xx']}")
    if "slotted_vs_spread" in b:
        rates = {sc["kind"]: sc["rps"] for sc in b["scenarios"]}
        ratios = (f"{rates['slotted'] / ceiling:.3f} vs {rates['spread'] / ceiling:.3f} of the "
                  "ceiling" if ceiling else f"{rates['slotted']:.0f} vs {rates['spread']:.0f} "
                  "req/s (no ceiling measured)")
        verdict = "✅" if b["slotted_vs_spread"] >= SLOTTED_MIN_SHARE else "❌"
        out.append(f"- **slotted vs unslotted booking (spread), this run: {ratios} = "
                   f"{b['slotted_vs_spread']:.3f}** (requirement ≥ {SLOTTED_MIN_SHARE:.2f} "
                   f"{verdict})")
    if "quotas_vs_spread" in b:
        verdict = "✅" if b["quotas_vs_spread"] >= QUOTAS_MIN_SHARE else "❌"
        pairs = ", ".join(f"{r:.3f}" for r in b.get("quotas_pairs", []))
        out.append(f"- booking with the person quotas on ÷ off, pass by pass: {pairs}")
        out.append(f"- **booking with the person quotas on vs off (spread, both from the same "
                   "vacuumed state), median of the passes, this run: "
                   f"{b['quotas_vs_spread']:.3f}** (requirement ≥ {QUOTAS_MIN_SHARE:.2f} "
                   f"{verdict})")
    overbookings = (b["overbooked_counter"] + b["overbooked_rows"]
                    + b["overbooked_slot_counter"] + b["overbooked_slot_rows"])
    out += [f"- booking patients: {b['patients']} (random), each with their account's token; "
            "every (patient, schedule) pair used once",
            f"- registrations created (warm-ups included): {b['created']}",
            f"- **overbookings: {overbookings}** (schedules with booked_count > "
            f"max_appointments: {b['overbooked_counter']}; with more active registrations "
            f"than max_appointments: {b['overbooked_rows']}; slots with booked_count > "
            f"capacity: {b['overbooked_slot_counter']}; with more active registrations than "
            f"capacity: {b['overbooked_slot_rows']})",
            f"- booked_count ≠ active registrations: {b['counter_mismatch']} of "
            f"{b['schedules_checked']} schedules, {b['slot_counter_mismatch']} of "
            f"{b['slots_checked']} slots; slotted schedules whose booked_count ≠ the sum of "
            f"their slots': {b['slot_sum_mismatch']}",
            f"- **5xx: {b['5xx']}**"]
    if "removed_after" in b:
        out.append(f"- the {b['removed_after']} bench registrations were deleted afterwards "
                   "(places released by the triggers)")
    if "slotted_removed_after" in b:
        out.append(f"- the {b['slotted_removed_after']} slotted schedules of the run were "
                   "deleted afterwards")
    return out


def build(h) -> str:
    """The whole report as Markdown."""
    ceiling = h.ceiling.rps if h.ceiling else None
    out = [f"# Benchmark results — {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}", "",
           f"- commit: {_commit()} (work tree may hold uncommitted changes)",
           f"- machine: {h.info['cpus']} CPUs, {platform.platform()}",
           f"- server: waitress-serve --threads {h.info['waitress_threads']} "
           "--call app:create_app, APP_ENV=production, RATELIMIT_ENABLED=0, SCHEDULER_ENABLED=0",
           f"- load: wrk {h.info['wrk']}, all on this machine (wrk, waitress and PostgreSQL "
           "share the cores)",
           f"- database: {h.info['database']} — {h.info.get('seeding', '')}",
           f"- rows: {json.dumps(h.info.get('rows'))}", "",
           "| endpoint | req/s (median of runs) | ratio to ceiling | p50 ms | p99 ms | statuses "
           "| CPU cores: server / postgres / wrk / others |",
           "|---|---:|---:|---:|---:|---|---|"]
    for m in h.measurements:
        run = m.median_run
        ratio = f"{m.rps / ceiling:.3f}" if ceiling else "n/a"
        p50, p99 = (_ms(run.p50_ms), _ms(run.p99_ms)) if run.requests else ("—", "—")
        out.append(f"| {m.name} | {m.rps:.1f} | {ratio} | {p50} | {p99} | "
                   f"{statuses_text(m) or 'no response completed'} | {_cpu(m)} |")
    out += ["", f"*CPU cores* (of {h.info['cpus']}, median over the runs): the waitress "
            "process, the PostgreSQL backends of the benchmark database, wrk, and every other "
            "process; *others* above ~0.2 means the machine was shared and the numbers are "
            "low.", "", "req/s per run:", ""]
    out += [f"- {m.name}: " + ", ".join(f"{r.rps:.0f}" for r in m.runs)
            for m in h.measurements]
    out.append("")
    if h.booking is not None:
        b = h.booking
        out += ["## Booking run", ""]
        if "skipped" in b:
            out.append(f"Skipped: {b['skipped']}.")
        else:
            out += _booking_lines(b, ceiling)
        out.append("")
    if h.latencies:
        out += ["## Search latency (POST /registrations/search, one client, sequential)", "",
                "Target: p50 ≤ 50 ms.", "",
                "| who, query kind | query | n | p50 ms | p95 ms | max ms | matches | "
                "statuses |", "|---|---|---:|---:|---:|---:|---:|---|"]
        for lat in h.latencies:
            flag = "" if lat.p50_ms <= 50 else " ❌"
            out.append(f"| {lat.label} | `{lat.query}` | {lat.n} | {_ms(lat.p50_ms)}{flag} | "
                       f"{_ms(lat.p95_ms)} | {_ms(lat.max_ms)} | {lat.count} | "
                       f"{', '.join(f'{k}: {v}' for k, v in sorted(lat.statuses.items()))} |")
        out.append("")
    if h.explain_summary:
        out += ["## Search query plans (bench/results/explain-search.txt)", ""]
        out += [f"- {line}" for line in h.explain_summary]
        out.append("")
    if h.profiles:
        out += ["## Profiles (py-spy on the waitress process, extra unreported runs)", "",
                "Raw collapsed stacks: bench/results/work/profile-*.txt (speedscope or "
                "flamegraph.pl). Sampling slows the server; percentages, not rates, count.", ""]
        for title, prof, requests in h.profiles:
            out.append(profile_markdown(title, prof, requests))
    return "\n".join(out) + "\n"


def write(h) -> None:
    """Write latest.md and latest.json and print the Markdown."""
    text = build(h)
    (RESULTS / "latest.md").write_text(text, encoding="utf-8")
    data = {
        "info": h.info,
        "ceiling_rps": h.ceiling.rps if h.ceiling else None,
        "measurements": [{"name": m.name, "rps_median": m.rps, "note": m.note,
                          "statuses": m.statuses(), "runs": [asdict(r) for r in m.runs]}
                         for m in h.measurements],
        "booking": h.booking,
        "search_latency": [asdict(lat) for lat in h.latencies],
        "explain": h.explain_summary,
        "profiles": [{"title": t, "requests": n, **asdict(p)} for t, p, n in h.profiles],
    }
    (RESULTS / "latest.json").write_text(json.dumps(data, indent=2, ensure_ascii=False,
                                                    default=str), encoding="utf-8")
    print("\n" + text)
    print(f"Written: {RESULTS / 'latest.md'}")
