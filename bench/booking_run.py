"""The booking step: bookings spread over many schedules, into slotted schedules and onto a
few hot ones under wrk; then the capacity checks in SQL and the cleanup."""
from __future__ import annotations

import statistics

from bench import booking_data as data
from bench import dataset
from bench.paths import WORK
from bench.server import Server
from bench.wrkrun import Measurement

TITLES = {
    "spread": "POST /registrations/ (booking over {n} spread schedules)",
    "slotted": "POST /registrations/ (booking over {n} slotted schedules, "
               f"{data.SLOT_MINUTES}-min slots, half name a slot)",
    "hot": "POST /registrations/ (booking over {n} hot schedules)",
    "rules_off": "POST /registrations/ (booking over {n} spread schedules again, from a clean "
                 "vacuumed state, person rules off)",
    "quotas": "POST /registrations/ (booking over {n} spread schedules, person quotas and "
              "no-show credit on, from the same state)",
}
PROFILED = ("spread", "slotted")
# The person rules switched on for the "quotas" scenario (the seed leaves them off).
QUOTA_POLICY = {"one_per_department_per_day": True, "max_active_per_person": 10,
                "no_show_limit": 3}


def run(h, service: Server, tokens: dict[int, str], app) -> dict:
    """Every booking scenario against `service` (h is the Harness); the report's facts."""
    args, url = h.args, h.url
    timezone = app.config["HOSPITAL_TIMEZONE"]
    leftovers = data.remove_slotted_schedules(url)
    if leftovers:
        print(f"   removed {leftovers} slotted schedules an earlier run left behind", flush=True)
    wide, hot = args.booking_schedules, args.booking_hot_schedules
    schedules, patients = data.booking_plan(url, timezone, wide + hot, args.booking_patients,
                                            h.rng)
    if not schedules:
        print("   no future schedule with a free place: booking run skipped", flush=True)
        return {"skipped": "no future schedule with a free place"}
    missing = sorted({uid for _, uid in patients} - tokens.keys())
    tokens.update(dataset.mint_tokens(app, missing))
    since = dataset.scalar(url, "SELECT coalesce(max(id), 0) FROM registrations")
    slotted = []
    if args.booking_slotted_schedules:
        slotted = data.create_slotted_schedules(url, timezone, args.booking_slotted_schedules)
        if not slotted:
            print("   no doctor free for a slotted evening schedule: slotted run skipped",
                  flush=True)
    scenarios = [("spread", schedules[hot:] if hot < len(schedules) else schedules, None)]
    if slotted:
        scenarios.append(("slotted", slotted, data.slot_ids(url, [s for s, _ in slotted])))
    if hot and len(schedules) > hot:
        scenarios.append(("hot", schedules[:hot], None))
    # The spread schedules again in pairs, rules off then on, each pass from the same state
    # (the earlier passes' bookings removed, the tables vacuumed), so that neither side reads
    # more dead rows or a longer history than the other; several pairs, because passes a
    # minute apart differ by more than the effect measured.
    pairs = args.booking_quota_pairs if args.booking_quotas else 0
    for _ in range(pairs):
        scenarios.append(("rules_off", scenarios[0][1], None))
        scenarios.append(("quotas", scenarios[0][1], None))

    booking: dict = {"patients": len(patients), "5xx": 0, "scenarios": []}
    rps: dict[str, float] = {}
    pair_rps: dict[str, list[float]] = {"rules_off": [], "quotas": []}
    for kind, chosen, slots in scenarios:
        if kind in ("rules_off", "quotas"):
            data.remove_bench_bookings(url, since)
            data.vacuum_booking_tables(url)
        label = kind
        if kind in pair_rps:
            label = f"{kind}{len(pair_rps[kind]) + 1}"
        if kind == "quotas":
            with data.policy_set(url, QUOTA_POLICY):
                result = _measure(h, service, kind, chosen, patients, tokens, slots, label)
        else:
            result = _measure(h, service, kind, chosen, patients, tokens, slots, label)
        rps[kind] = result.rps
        if kind in pair_rps:
            pair_rps[kind].append(result.rps)
        booking["scenarios"].append(
            {"kind": kind, "schedules": len(chosen),
             "free_places_before": sum(free for _, free in chosen),
             "slots": sum(len(ids) for ids in slots.values()) if slots else None,
             "rps": result.rps, "5xx": result.count_5xx()})
        booking["5xx"] += result.count_5xx()
    if rps.get("spread") and "slotted" in rps:
        # Both ratios share the ceiling: the quotient of the ratios is that of the rates.
        booking["slotted_vs_spread"] = rps["slotted"] / rps["spread"]
    if pair_rps["quotas"] and all(pair_rps["rules_off"]):
        booking["quotas_pairs"] = [on / off for off, on in zip(pair_rps["rules_off"],
                                                              pair_rps["quotas"], strict=True)]
        booking["quotas_vs_spread"] = (statistics.median(pair_rps["quotas"])
                                       / statistics.median(pair_rps["rules_off"]))

    booking["created"] = data.booked_by_bench(url, since)
    checks = data.verify_capacity(url)
    booking.update(checks)
    print(f"   booked {booking['created']}; capacity check: {checks}; "
          f"5xx: {booking['5xx']}", flush=True)
    if not args.keep_bookings:
        booking["removed_after"] = data.remove_bench_bookings(url, since)
        if slotted:
            booking["slotted_removed_after"] = data.remove_slotted_schedules(
                url, [s for s, _ in slotted])
    return booking


def _measure(h, service: Server, kind: str, chosen: list[tuple[int, int]],
             patients: list[tuple[int, int]], tokens: dict[int, str],
             slots: dict[int, list[int]] | None, label: str | None = None) -> Measurement:
    """One scenario: a fresh request file per wrk run (warm-up, runs, profile)."""
    label = label or kind
    names = [f"{label}-warmup", *[f"{label}-run{i + 1}" for i in range(h.args.repeat)],
             f"{label}-profile"]
    per_file = max(2000, h.args.duration * 2000)
    files = data.booking_files(WORK, chosen, patients, tokens, per_file, names, h.rng, slots)
    per_run = [["lines", str(files[name]), str(h.args.wrk_threads)] for name in names]
    note = f"{len(chosen)} future schedules with {sum(f for _, f in chosen)} free places"
    if slots:
        note += (f" in {sum(len(ids) for ids in slots.values())} slots of "
                 f"{data.SLOT_MINUTES} min")
    title = TITLES[kind].format(n=len(chosen))
    if label != kind:
        title += f" [pass {label[len(kind):]}]"
    return h.measure(title, service, per_run[-1],
                     per_run_args=per_run,
                     profile_as=f"POST registrations, booking, {kind}"
                     if kind in PROFILED else None,
                     note=note)
