"""``masquelier2009``: competitive STDP learning with lateral inhibition.

``K`` SRM neurons with nearest-spike STDP listen to the same input (docs/references.md
section 2); when one fires, every other receives an IPSP of peak ``alpha * threshold``
(one-winner-take-all). With one pattern and 3 neurons, the neurons become selective to
successive parts of the pattern (a distributed code: one fires at its start, the next a
little later, ...); with several patterns, neurons spread over the patterns.

Judged over the last third of the run, for each neuron ``k`` and pattern ``q``:

- ``k`` is selective to ``q`` when it fires in more than 90 % of ``q``'s presentations
  and at least 90 % of its spikes fall inside them;
- ``latencies_ms[k]``: mean latency of ``k``'s spikes inside the pattern it responds to
  best, for every neuron that fires in more than half of that pattern's presentations
  (null otherwise; ``responsive_neurons`` counts them);
- ``patterns_learned``: fraction of patterns with at least one selective neuron;
- ``distinct``: no two neurons selective to the same pattern fire within 2 ms of each
  other on average (they code different parts of it).

Parameters not given by a primary source (docs/references.md section 2, marked U) and chosen here:
alpha = 2 (Masquelier's 2016 code; his 2012 code used 0.5, a reimplementation 0.25) with an
IPSP that acts at once (``--ipsp step``: the potential drops by alpha T and recovers with
tau_m), so that a follower cannot fire until the winner's inhibition has decayed. With the
EPSP-shaped IPSP (``--ipsp epsp``), which rises from zero, a competitor that fires
within ~1 ms of the winner is not held back, and competitors converge onto the same
pattern start. Initial weights are drawn in 0.475 +- 0.1 (identical neurons would stay
identical). Input statistics and neuron as in 2008; 3 patterns share 1/3 of the slots.

Several patterns: with as many neurons as patterns, two neurons often converge onto the
same pattern during the search phase (nothing in the rule steers a neuron to a pattern
that is still free); the one that fires later in each presentation then either learns a
later part of that pattern (weak inhibition) or falls silent for good (strong
inhibition), and a pattern is left without a neuron. The defaults for several patterns
are therefore 3 neurons per pattern and alpha = 4 (:func:`default_neurons`,
:func:`default_inhibition`); a run succeeds when every pattern has a selective neuron and
no two of them code the same part (the losers that fell silent are reported).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from spikewave._validation import (
    NON_NEGATIVE,
    POSITIVE,
    Interval,
    check_choice,
    check_int,
    check_number,
    fail,
)
from spikewave.experiments.masquelier2008 import check_run_budget, simulated_seconds
from spikewave.experiments.registry import (
    KnownPartial,
    Metric,
    Reproduction,
    Result,
    RunContext,
)
from spikewave.experiments.seeds import add_scheduler_argument, check_scheduler, run_seeds
from spikewave.neurons.srm import SRMParams
from spikewave.plasticity.stdp import STDPParams
from spikewave.sim.eventdriven import (
    IPSP_SHAPES,
    SRMNetworkState,
    present_repeated,
    repeat_times,
)
from spikewave.sim.masquelier_input import PatternInputParams, make_pattern_input

SELECTIVE_HIT = 0.9
SELECTIVE_PRECISION = 0.9
DISTINCT_MS = 2.0


def selectivity(spike_times_ms, spike_neurons, onsets_ms, pattern_ids, n_neurons: int,
                n_patterns: int, start_ms: float, stop_ms: float, pattern_ms: float = 50.0):
    """Hit rate ``[K, P]``, precision ``[K, P]`` and mean latency ``[K, P]`` over a window."""
    keep = (onsets_ms >= start_ms) & (onsets_ms + pattern_ms <= stop_ms)
    onsets, ids = onsets_ms[keep], pattern_ids[keep]
    hit = np.zeros((n_neurons, n_patterns))
    precision = np.zeros((n_neurons, n_patterns))
    latency = np.full((n_neurons, n_patterns), np.nan)
    for k in range(n_neurons):
        s = spike_times_ms[(spike_neurons == k) & (spike_times_ms >= start_ms)
                           & (spike_times_ms < stop_ms)]
        idx = np.searchsorted(onsets, s, side="right") - 1
        lat = s - onsets[np.maximum(idx, 0)]
        inside = (idx >= 0) & (lat < pattern_ms)
        for q in range(n_patterns):
            in_q = inside & (ids[np.maximum(idx, 0)] == q)
            n_pres = np.count_nonzero(ids == q)
            hit[k, q] = np.unique(idx[in_q]).size / n_pres if n_pres else 0.0
            precision[k, q] = in_q.sum() / s.size if s.size else 0.0
            if in_q.any():
                latency[k, q] = float(lat[in_q].mean())
    return hit, precision, latency


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--neurons", type=int, default=None,
                        help="number of neurons K (default 3 for one pattern, 3 per pattern "
                             "for several)")
    parser.add_argument("--patterns", type=int, default=1,
                        help="number of patterns P (default 1)")
    parser.add_argument("--duration-s", type=float, default=None,
                        help="simulated time (s, default 450; 225 with --quick)")
    parser.add_argument("--inhibition", type=float, default=None,
                        help="IPSP amplitude as a fraction of threshold, alpha (default 2 for "
                             "one pattern, 4 for several)")
    parser.add_argument("--pattern-freq", type=float, default=None,
                        help="fraction of slots holding a pattern (default 0.25 for one "
                             "pattern, 1/3 for several)")
    parser.add_argument("--ipsp", choices=["epsp", "step"], default="step",
                        help="IPSP shape: an immediate drop decaying with tau_m (default), "
                             "or the EPSP kernel (rises over ~4.6 ms)")
    parser.add_argument("--weight-spread", type=float, default=0.1,
                        help="initial weights uniform in 0.475 +- this (default 0.1)")
    parser.add_argument("--runs", type=int, default=1,
                        help="runs on seeds seed .. seed+runs-1, spread over the cores; adds "
                             "success_rate and the per-run records (the figure: first seed)")
    add_scheduler_argument(parser)


def default_neurons(n_patterns: int) -> int:
    """K: 3 neurons for one pattern (the distributed code of successive parts); 3 per pattern
    for several (MicroSpike's P3N9 and P4N15 runs, docs/references.md section 2), so that
    the neurons that lose the competition for a pattern during the search phase -- they fall
    silent or settle on a later part of a pattern already taken -- leave every pattern a
    neuron of its own."""
    return 3 if n_patterns == 1 else 3 * n_patterns


def default_inhibition(n_patterns: int) -> float:
    """alpha: 2 for one pattern (Masquelier's 2016 code), 4 for several -- beyond the values
    of the sources (0.25-2): an IPSP of 4 thresholds still holds a competitor 25 ms into the
    winner's pattern, so that it does not learn that pattern's later part and stays free
    for another pattern."""
    return 2.0 if n_patterns == 1 else 4.0


def simulate(seed: int, n_k: int, n_p: int, duration_s: float, alpha: float, freq: float,
             weight_spread: float, ipsp: str, record: bool = False,
             on_progress_s: Callable[[float], None] | None = None) -> dict:
    """One run: selectivity over the last third, judged; with ``record`` also what the
    figure needs (the run, pattern onsets and ids, the record times)."""
    p_in = PatternInputParams(n_patterns=n_p, pattern_freq=freq)
    srm = SRMParams(threshold=0.5 * p_in.n_pattern)
    rng = np.random.default_rng(seed)
    block = make_pattern_input(p_in, rng)
    duration_ms = duration_s * 1000.0
    # identical neurons would stay identical (they cross threshold together, and an IPSP
    # rises from zero): initial weights are drawn around the 2008 value to break symmetry
    w0 = rng.uniform(0.475 - weight_spread, 0.475 + weight_spread, (n_k, int(p_in.n_afferents)))
    rec = np.arange(duration_ms - 400.0, duration_ms, 0.1) if record else None
    out = present_repeated(block.trains, duration_ms, SRMNetworkState.initial(w0), srm,
                           STDPParams(), alpha, record_times_ms=rec, ipsp=ipsp,
                           progress=simulated_seconds(on_progress_s))
    onsets = repeat_times(block.pattern_onsets_ms, block.trains.duration_ms, duration_ms)
    ids = np.tile(block.pattern_ids, int(np.ceil(duration_ms / block.trains.duration_ms)))
    ids = ids[:onsets.size]
    hit, precision, latency = selectivity(out.spike_times_ms, out.spike_neurons, onsets, ids,
                                          n_k, n_p, duration_ms * 2.0 / 3.0, duration_ms)
    verdict = judge(hit, precision, latency)
    verdict.update(seed=seed, n_output_spikes=int(out.spike_times_ms.size))
    if record:
        verdict["_figure"] = (out, onsets, ids, rec, srm.threshold)
    return verdict


def judge(hit: np.ndarray, precision: np.ndarray, latency: np.ndarray) -> dict:
    """The checks of one run from its ``[K, P]`` hit rate, precision and latency."""
    n_k, n_p = hit.shape
    selective = (hit > SELECTIVE_HIT) & (precision >= SELECTIVE_PRECISION)
    pref = np.where(selective.any(axis=1), np.argmax(selective, axis=1), -1)
    best = np.argmax(hit, axis=1)
    responsive = hit[np.arange(n_k), best] > 0.5
    distinct = True
    for q in range(n_p):
        lats = sorted(latency[k, q] for k in range(n_k) if pref[k] == q)
        if any(b - a < DISTINCT_MS for a, b in zip(lats, lats[1:], strict=False)):
            distinct = False
    learned = float(np.mean(selective.any(axis=0)))
    n_selective = int(selective.any(axis=1).sum())
    return {"patterns_learned": learned, "distinct": distinct,
            "responsive_neurons": int(responsive.sum()), "selective_neurons": n_selective,
            # one pattern: every neuron codes a part of it; several: every pattern has a
            # neuron (with more neurons than patterns the losers fall silent)
            "success": bool(learned == 1.0 and distinct
                            and (n_selective == n_k if n_p == 1 else True)),
            "latencies_ms": [float(latency[k, best[k]]) if responsive[k] else None
                             for k in range(n_k)],
            "preferred_pattern": pref, "hit_rate": hit, "precision": precision}


def run(ctx: RunContext, neurons: int | None = None, patterns: int = 1,
        duration_s: float | None = None, inhibition: float | None = None,
        pattern_freq: float | None = None, weight_spread: float = 0.1, ipsp: str = "step",
        runs: int = 1, scheduler: str | None = None) -> Result:
    from spikewave.plot.stdp import competition_figure

    n_p = check_int("patterns", patterns, 1, 100)
    n_k = check_int("neurons", default_neurons(n_p) if neurons is None else neurons, 1, 1000)
    n_runs = check_int("runs", runs, 1, 10_000)
    scheduler = check_scheduler(scheduler)
    alpha = check_number("inhibition", default_inhibition(n_p) if inhibition is None
                         else inhibition, NON_NEGATIVE)
    weight_spread = check_number("weight_spread", weight_spread, Interval(0.0, 0.475, "both"))
    check_choice("ipsp", ipsp, IPSP_SHAPES)
    default_s = 225.0 if ctx.quick else 450.0
    duration = check_number("duration_s", default_s if duration_s is None else duration_s,
                            POSITIVE)
    if duration < 3.0:
        raise fail("duration_s", duration_s, "at least 3 s")
    freq = pattern_freq if pattern_freq is not None else (0.25 if n_p == 1 else 1.0 / 3.0)
    check_run_budget("reproduce masquelier2009", duration,
                     PatternInputParams(n_patterns=n_p, pattern_freq=freq), n_k)
    options = dict(n_k=n_k, n_p=n_p, duration_s=duration, alpha=alpha, freq=freq,
                   weight_spread=weight_spread, ipsp=ipsp)
    bar = ctx.progress_bar(total=n_runs * duration, desc="masquelier2009, simulated s")
    records = run_seeds(simulate, range(ctx.seed, ctx.seed + n_runs),
                        first_options={"record": True}, on_progress_s=bar.update,
                        scheduler=scheduler, **options)
    bar.close()
    first = records[0]
    out, onsets, ids, rec, threshold = first.pop("_figure")
    fig = competition_figure(out, onsets, ids, rec, n_k, threshold,
                             ctx.figure_path("competition.png"))
    metrics = [
        Metric("patterns_learned", first["patterns_learned"], 1.0,
               "= 1 (every pattern has a selective neuron)", first["patterns_learned"] == 1.0),
        Metric("distinct", float(first["distinct"]), 1.0,
               "no two neurons on the same pattern part", first["distinct"]),
        Metric("responsive_neurons", float(first["responsive_neurons"]), float(n_k),
               "reported (fire in > 50 % of a pattern's presentations)", None),
        Metric("selective_neurons", float(first["selective_neurons"]), float(n_k),
               "= K (each neuron codes a part of the pattern)",
               first["selective_neurons"] == n_k) if n_p == 1 else
        Metric("selective_neurons", float(first["selective_neurons"]), float(n_p),
               f"reported (at least one per pattern: see patterns_learned; with {n_k} neurons "
               f"for {n_p} patterns those that lose the competition fall silent)", None),
    ]
    extra = {k: first[k] for k in ("latencies_ms", "preferred_pattern", "hit_rate",
                                   "precision", "n_output_spikes")}
    if n_runs > 1:
        rate = float(np.mean([r["success"] for r in records]))
        metrics.append(Metric("success_rate", rate, None, "reported: runs where every check "
                              "above holds", None))
        extra["runs"] = [{**{k: r[k] for k in ("seed", "success", "selective_neurons",
                                               "responsive_neurons", "latencies_ms",
                                               "patterns_learned", "distinct")},
                          "preferred_pattern": [int(q) for q in r["preferred_pattern"]]}
                         for r in records]
    return Result("masquelier2009", REPRODUCTION.title, metrics, [fig], extra=extra,
                  config={"neurons": n_k, "patterns": n_p, "duration_s": duration,
                          "inhibition": alpha, "ipsp": ipsp, "weight_spread": weight_spread,
                          "seed": ctx.seed, "runs": n_runs,
                          "input": asdict(PatternInputParams(n_patterns=n_p, pattern_freq=freq)),
                          "stdp": asdict(STDPParams())})


REPRODUCTION = Reproduction(
    name="masquelier2009",
    title="Competitive STDP with lateral inhibition (Masquelier et al. 2009)",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
    known_partial=KnownPartial(
        checks=("selective_neurons", "patterns_learned"),
        reason="With one pattern and several neurons the paper's distributed code (every "
               "neuron selective to a successive part of the pattern) is reached by two "
               "neurons in most runs, and not strictly: the third loses the competition "
               "during the search phase and falls silent, and the two that learn share the "
               "presentations, so that the first one's hit rate or the second one's "
               "precision can fall below the 90 % selectivity criterion. The 2009 paper's "
               "own parameters for this figure are not available (abstract only).",
        reached="two neurons respond at successive latencies (about 5 and 22 ms with the "
                "defaults), in 88-97 % of the presentations, the later one also outside "
                "the pattern; all three strictly selective in 2 of 18 runs of the best "
                "configuration searched.",
        applies=lambda config: config.get("patterns") == 1 and config.get("neurons", 1) > 1,
    ),
)
