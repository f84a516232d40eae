"""The table ``simplecnn bench`` prints, and its summary ratios.

Every comparison is a plain ratio with its direction spelt out: ``other /
ours`` is the other side's time over ours (above 1: ours is faster), and
``speed`` turns it into words ("5.6x faster", "1.2x slower"; never "0.9x
faster").  The GEMM bound is stated as ours over the products' own time
(at least 1: the pass does the products and more) and as the products'
share of our time (at most 100%).
"""
from __future__ import annotations

import sys

from simplecnn_bench.common import gb, median


def speed(ratio):
    """``other / ours`` in words, from our side."""
    if ratio is None:
        return "-"
    if ratio >= 1:
        return f"{ratio:.2f}x faster"
    return f"{1 / ratio:.2f}x slower"


def summary(rows):
    """Ratios from one (precision, instances) block of measurements."""
    t = {r["item"]: r for r in rows if not r.get("error")}
    ours = t.get("ours", {}).get("seconds")
    s = {}

    def ratio(key, field="seconds", base=None):
        other = t.get(key, {}).get(field)
        base_t = base if base is not None else ours
        return other / base_t if other and base_t else None

    s["octave_over_ours"] = t.get("octave", {}).get("over_ours") or ratio("octave")
    proc = t.get("gradient", {}).get("seconds")
    s["octave_call_over_gradient_process"] = ratio("octave", base=proc) if proc else None
    s["octave_process_over_gradient_process"] = ratio("octave", "process_one_call", base=proc) if proc else None
    s["torch_over_ours"] = t.get("torch", {}).get("over_ours") or ratio("torch")
    s["reference_over_fast"] = ratio("reference")
    g = t.get("gemm", {}).get("seconds")
    gs = t.get("gemm_square", {}).get("seconds")
    paired = t.get("gemm", {}).get("ours_over_bound")      # timed alternately: the better figure
    s["ours_over_gemm_bound"] = paired if paired else (ours / g if g and ours else None)
    s["gemm_share_of_ours"] = min(1.0, 1 / s["ours_over_gemm_bound"]) if s["ours_over_gemm_bound"] else None
    s["ours_over_machine_peak"] = ours / gs if gs and ours else None
    nt, no = t.get("newton", {}).get("seconds"), t.get("newton_octave", {}).get("seconds")
    s["newton_octave_over_ours"] = no / nt if nt and no else None
    s["compare_over_bare"] = t.get("compare", {}).get("over_bare")
    s["compare_peak"] = t.get("compare", {}).get("peak")
    mem = t.get("memory", {})
    s["peak_over_kept"] = mem["peak"] / mem["kept"] if mem.get("peak") and mem.get("kept") else None
    return s


def print_table(meta, blocks, out=None):
    w = (out or sys.stdout).write
    w(f"simplecnn bench: config {meta['config']}; data {meta['data']}\n")
    w(f"  {meta['machine']}; numpy {meta['numpy']} ({meta['blas']}); repeats {meta['repeats']} "
      f"(median after a warm-up); Octave tree {meta.get('matlab_tree', '-')}\n")
    w("  'other/ours' = that row's time over ours (lossgrad_subset, fast path): above 1 ours is faster;\n"
      "  rows '(alternated with ours)' ran in rounds with one call of ours each: their ratio is the median\n"
      "  of the round-by-round ratios.\n"
      "  The machine may be shared: compare the ratios of one run, not times across runs.\n")
    for blk in blocks:
        w(f"\n{blk['precision']}, {blk['instances']} instances\n")
        w(f"  {'measurement':<62} {'time (s)':>9} {'other/ours':>10} {'peak memory':>22}  notes\n")
        ours = next((r["seconds"] for r in blk["rows"] if r["item"] == "ours"), None)
        for r in blk["rows"]:
            if r.get("error"):
                w(f"  {r['what']:<62} {'-':>9} {'':>10} {'':>22}  skipped: {r['error']}\n")
                continue
            sec = r.get("seconds")
            ts = f"{sec:9.3f}" if sec is not None else f"{'':>9}"
            ratio = (r.get("over_ours") or (1 / r["ours_over_bound"] if r.get("ours_over_bound") else None)
                     or (sec / ours if sec is not None and ours and r["item"] != "ours" else None))
            vs = f"{ratio:10.2f}" if ratio is not None else f"{'':>10}"
            mem = ""
            if r.get("peak") is not None:
                mem = gb(r["peak"])
                if r.get("kept"):
                    mem += f" ({r['peak'] / r['kept']:.2f}x Z+phiZ)"
                elif r["item"] == "compare":
                    mem += " tree RSS"
                elif r["item"] in ("gradient", "octave", "torch"):
                    mem += " peak RSS"
            w(f"  {r['what']:<62} {ts} {vs} {mem:>22}  {'; '.join(_notes(r))}\n")
        for line in _conclusions(blk["summary"]):
            w(f"  => {line}\n")
    w("\n" + summary_table(meta, blocks))


def _notes(r):
    notes = []
    if r.get("times") and len(r["times"]) > 1:
        notes.append(f"min {min(r['times']):.3f} max {max(r['times']):.3f}")
    if r.get("kept"):
        notes.append(f"Z+phiZ kept: {gb(r['kept'])}")
    if r.get("process_one_call") is not None:
        notes.append(f"Octave process with one call {r['process_one_call']:.2f} s")
    if r.get("calls"):
        notes.append("calls " + " and ".join(r["calls"]))
    if r.get("over_ours"):
        notes.append(f"over ours round by round (alternated): median {r['over_ours']:.2f}")
    if r.get("ours_over_bound"):
        notes.append(f"ours/bound run by run (alternated): median {r['ours_over_bound']:.2f}")
    if r.get("over_bare"):
        notes.append(f"{r['verdict']}; {r['over_bare']:.2f}x the bare runs ({r['bare_seconds']:.3f} s: "
                     f"Octave's lossgrad_subset call + ours)")
    if r.get("cg") is not None:
        notes.append(f"#CG {r['cg']}, f {r['f']:.10g}")
    e = r.get("rel_err_vs_ours")
    if isinstance(e, float):
        notes.append(f"rel. err vs ours {e:.1e}")
    elif e:
        notes.append(str(e))
    return notes


def _conclusions(s):
    out = []
    if s.get("octave_over_ours"):
        out.append(f"lossgrad_subset call vs call: ours {speed(s['octave_over_ours'])} than Octave")
    if s.get("octave_call_over_gradient_process"):
        out.append(f"the whole simplecnn gradient process: {speed(s['octave_call_over_gradient_process'])} than "
                   f"one warm Octave call ({speed(s['octave_process_over_gradient_process'])} process vs process)")
    if s.get("torch_over_ours"):
        out.append(f"ours {speed(s['torch_over_ours'])} than PyTorch")
    if s.get("ours_over_gemm_bound"):
        out.append(_bound_words(s))
    if s.get("peak_over_kept"):
        out.append(f"peak memory {s['peak_over_kept']:.2f}x the Z+phiZ kept")
    if s.get("newton_octave_over_ours"):
        out.append(f"one Newton iteration: ours {speed(s['newton_octave_over_ours'])} than Octave's")
    if s.get("compare_over_bare"):
        out.append(f"a whole compare takes {s['compare_over_bare']:.2f}x the bare runs (goal <= 2.0x), "
                   f"peak {gb(s['compare_peak'])} for the process tree (goal <= 2 GiB)")
    if s.get("reference_over_fast"):
        out.append(f"fast path {speed(s['reference_over_fast'])} than the reference path")
    return out


def _bound_words(s):
    r = s["ours_over_gemm_bound"]
    text = (f"ours takes {r:.2f}x the time of its own products (GEMM bound; goal <= 1.15x): the products are "
            f"{100 * s['gemm_share_of_ours']:.0f}% of our time")
    if r < 1:
        text += " (below 1: the products were timed at a busier moment than the pass; noise of a shared machine)"
    if s.get("ours_over_machine_peak"):
        text += f"; {s['ours_over_machine_peak']:.2f}x the flops at the machine's peak rate"
    return text


def summary_table(meta, blocks):
    """One table of the ratios that matter, every block of the run."""
    lines = [f"summary: other/ours (above 1: ours faster), ours/GEMM bound (1 = nothing but the products), "
             f"same run, medians of {meta['repeats']} (ratios: of the alternated rounds' ratios)\n",
             f"  {'precision':<9} {'instances':>9} {'ours (s)':>9} {'Octave/ours':>12} {'PyTorch/ours':>13} "
             f"{'bound (s)':>10} {'ours/bound':>11} {'products share':>15}\n"]
    for blk in blocks:
        s = blk["summary"]
        ours = next((r.get("seconds") for r in blk["rows"] if r["item"] == "ours"), None)
        gemm = next((r for r in blk["rows"] if r["item"] == "gemm" and not r.get("error")), {})
        bound = gemm.get("seconds")
        if gemm.get("ours_times"):          # ours as timed in the alternated rounds, beside the bound
            ours = median(gemm["ours_times"])

        def f(v, fmt):
            return format(v, fmt) if v is not None else "-"

        lines.append(f"  {blk['precision']:<9} {blk['instances']:>9} {f(ours, '9.3f'):>9} "
                     f"{f(s.get('octave_over_ours'), '12.2f'):>12} {f(s.get('torch_over_ours'), '13.2f'):>13} "
                     f"{f(bound, '10.3f'):>10} {f(s.get('ours_over_gemm_bound'), '11.2f'):>11} "
                     f"{f(100 * s['gemm_share_of_ours'] if s.get('gemm_share_of_ours') else None, '14.0f'):>14}%\n")
    return "".join(lines)
