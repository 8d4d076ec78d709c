"""The Markdown table of bench/collect and bench/collect-guest, from collect-bench's
tab-separated lines (measurement, path, median ms, min ms, result) and bpftool's rounds.
A path the kernel lacks (the kfunc before Linux 6.6) has no column.
Usage: collect_report.py RESULTS SMALL_MAPS BIG_ENTRIES KERNEL"""
import statistics, sys, os
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
small, big, kernel = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]


def get(measurement, path):
    values = [float(r[2]) for r in rows if r[0] == measurement and r[1] == path]
    return statistics.median(values) if values else None


def cell(value):
    return f"{value:,.2f}" if value is not None else "-"


def ratio(numerator, denominator):
    return f"{numerator / denominator:,.1f}x" if numerator is not None and denominator else "-"


paths = [p for p in ["kfunc", "htab", "batch", "syscalls"] if any(r[1] == p for r in rows)]
bpftool = get("bpftool map dump, 1M-element map", "bpftool")
listing = get("raw iterator read, all maps", "iterator")
names = {"kfunc": "kfunc", "htab": "htab read", "batch": "iterator + batch", "syscalls": "syscalls + batch"}
print(f"Maps: {small:,} hash maps of 4 elements (capacity 64) + one of {big:,} elements + one empty of the same "
      f"capacity; kernel {kernel}, {os.cpu_count()} CPUs. Milliseconds, median.\n")
print("| measurement | " + " | ".join(f"{names[p]} (ms)" for p in paths)
      + " | batch ÷ htab read | htab read ÷ kfunc |")
print("|---|" + "---:|" * (len(paths) + 2))
print(f"| listing alone (iterator read, no count) | {cell(listing)} |" + " |" * (len(paths) + 1))
for m in ["first collection, all maps (cold caches)", "steady-state collection, all maps",
          "steady-state collection, the small maps only", "collection of the empty 1M-capacity hash map",
          "collection of the 1M-element hash map"]:
    values = [get(m, p) for p in paths]
    print(f"| {m} | " + " | ".join(cell(v) for v in values)
          + f" | {ratio(get(m, 'batch'), get(m, 'htab'))} | {ratio(get(m, 'htab'), get(m, 'kfunc'))} |")
print(f"| peer: `bpftool map dump` of the 1M-element map | {cell(bpftool)} |" + " |" * (len(paths) + 1))
walk = get("collection of the 1M-element hash map", "htab")
batch = get("collection of the 1M-element hash map", "batch")
print(f"\n1M-element map: bpftool dump ÷ htab read {ratio(bpftool, walk)}, bpftool dump ÷ batch {ratio(bpftool, batch)}.")
counts = {r[4] for r in rows if r[0] == "collection of the 1M-element hash map"} | {r[4] for r in rows if r[1] == "bpftool"}
print(f"Counts of the big map reported by every path: {', '.join(sorted(counts))}.")
