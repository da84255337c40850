#!/usr/bin/env python3
"""One line of figures from a libFuzzer log: summarize.py TARGET LOG CORPUS ARTIFACTS."""
import os
import re
import sys

target, log, corpus, artifacts = sys.argv[1:5]
text = open(log, errors="replace").read()
stat = dict(re.findall(r"^stat::(\w+):\s+(\d+)", text, re.M))
execs = int(stat.get("number_of_executed_units", 0))
lines = re.findall(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)", text, re.M)
cov, ft = (lines[-1][1], lines[-1][2]) if lines else ("?", "?")
rate = stat.get("average_exec_per_sec", "?")
found = sorted(os.listdir(artifacts)) if os.path.isdir(artifacts) else []
n_corpus = len(os.listdir(corpus)) if os.path.isdir(corpus) else 0
print(f"{target}: execs {execs}, {rate} exec/s, cov {cov}, ft {ft}, corpus {n_corpus}, "
      f"peak rss {stat.get('peak_rss_mb', '?')} MB, findings {len(found)} {' '.join(found)}")
