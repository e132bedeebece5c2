"""Report the `unsafe { ... }` blocks of a source tree that a coverage run never entered.

usage: unsafe_reach.py LCOV_FILE SRC_DIR [FILE...]

LCOV_FILE comes from `llvm-cov export --format=lcov`. A block counts as reached when any
line from its `unsafe {` to its closing brace has a non-zero count (a line holding only
`unsafe {` has no count of its own). A block preceded (within three lines) by a comment
`// reach-exempt: <reason>` is listed with its reason and not required. Exits 1 if any
other block was not reached. With FILEs
(paths under SRC_DIR, e.g. src/ffi/view.rs), only their blocks are counted.
"""
import os
import re
import sys

UNSAFE_BLOCK = re.compile(r"\bunsafe\s*\{")


def line_counts(lcov_path):
    counts, current = {}, None
    with open(lcov_path) as f:
        for line in f:
            if line.startswith("SF:"):
                current = counts.setdefault(os.path.realpath(line[3:].strip()), {})
            elif line.startswith("DA:") and current is not None:
                number, count = line[3:].split(",")[:2]
                current[int(number)] = current.get(int(number), 0) + int(count)
    return counts


def blocks(path):
    """(first line, last line) of every `unsafe {` block, by brace matching per line."""
    with open(path) as f:
        lines = f.read().split("\n")
    found = []
    for i, text in enumerate(lines):
        code = text.split("//")[0]
        for m in UNSAFE_BLOCK.finditer(code):
            depth, j, col = 0, i, m.end() - 1
            while j < len(lines):
                segment = lines[j].split("//")[0]
                for ch in segment[col:]:
                    depth += ch == "{"
                    depth -= ch == "}"
                    if depth == 0:
                        break
                if depth == 0:
                    break
                j, col = j + 1, 0
            exempt = None
            for k in range(max(0, i - 3), i):
                if "reach-exempt:" in lines[k]:
                    exempt = lines[k].split("reach-exempt:", 1)[1].strip()
            found.append((i + 1, j + 1, exempt))
    return found


def main():
    lcov_path, src = sys.argv[1], sys.argv[2]
    only = {os.path.realpath(p) for p in sys.argv[3:]}
    counts = line_counts(lcov_path)
    total, missed, exempted = 0, [], []
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.realpath(os.path.join(root, name))
            if only and path not in only:
                continue
            hits = counts.get(path, {})
            for first, last, exempt in blocks(path):
                where = f"{os.path.relpath(path)}:{first}"
                if exempt is not None:
                    exempted.append(f"{where} ({exempt})")
                    continue
                total += 1
                if not any(hits.get(n, 0) for n in range(first, last + 1)):
                    missed.append(where)
    for e in exempted:
        print(f"  exempt: {e}")
    for m in missed:
        print(f"  not reached: {m}")
    print(f"reach: {total - len(missed)} of {total} unsafe blocks reached, {len(missed)} not"
          f" ({len(exempted)} exempt, listed above)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
