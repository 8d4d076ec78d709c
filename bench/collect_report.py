"""The Markdown table of bench/collect and bench/collect-guest, from collect-bench's
tab-separated lines (measurement, method, median ms, min ms, result) and bpftool's rounds.
Usage: collect_report.py RESULTS SMALL_MAPS BIG_ENTRIES KERNEL"""
import statistics, sys, platform, os
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
small, big, kernel = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def get(measurement, method):
    values = [float(r[2]) for r in rows if r[0] == measurement and r[1] == method]
    return statistics.median(values) if values else None
bpftool = get("bpftool map dump, 1M-element map", "bpftool")
raw = get("raw iterator read, all maps", "iterator")
print(f"Maps: {small:,} hash maps of 4 elements + one of {big:,} elements + one empty; kernel {kernel}, {os.cpu_count()} CPUs.\n")
print("| measurement | iterator (ms) | fallback (ms) | iterator ÷ raw iterator read | bpftool dump ÷ iterator |")
print("|---|---:|---:|---:|---:|")
for m in ["raw iterator read, all maps", "first collection, all maps (cold caches)", "steady-state collection, all maps",
          "collection of the empty 1M-capacity hash map", "collection of the 1M-element hash map"]:
    it, fb = get(m, "iterator"), get(m, "fallback")
    cell = lambda v: f"{v:.2f}" if v is not None else "-"
    ratio_raw = f"{it / raw:.1f}x" if it is not None else "-"
    ratio_bpftool = f"{bpftool / it:,.0f}x" if it is not None else "-"
    print(f"| {m} | {cell(it)} | {cell(fb)} | {ratio_raw} | {ratio_bpftool} |")
print(f"| peer: `bpftool map dump` of the 1M-element map | bpftool: {bpftool:.2f} | | | 1x |")
added_it = get("collection of the 1M-element hash map", "iterator") - get("collection of the empty 1M-capacity hash map", "iterator")
added_fb = get("collection of the 1M-element hash map", "fallback") - get("collection of the empty 1M-capacity hash map", "fallback")
print(f"\nCost the 1,000,000 elements add: iterator {added_it:+.2f} ms, fallback {added_fb:+.2f} ms, bpftool dump {bpftool:.0f} ms.")
counts = {r[4] for r in rows if r[0] == "collection of the 1M-element hash map"} | {r[4] for r in rows if r[1] == "bpftool"}
print(f"Counts of the big map reported by every method: {', '.join(sorted(counts))}.")
