"""The request loop both PyTorch benchmark workers share: one JSON command per line on
stdin, one JSON answer per line on stdout.

  {"cmd": "setup", "case": NAME, "threads": N, ...}  -> builds the case with make_case(cmd)
  {"cmd": "time", "case": NAME, "iters": K}          -> K timings of case.step(), in ms
"""
import json
import sys
import time

import torch


def serve(make_case):
    cases = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        name = cmd.get("case", "default")
        if cmd["cmd"] == "setup":
            torch.set_num_threads(cmd["threads"])
            cases[name] = make_case(cmd)
            answer = {"ok": True, "threads": torch.get_num_threads(), "torch": torch.__version__}
        elif cmd["cmd"] == "time":
            step = cases[name].step
            times = []
            for _ in range(cmd["iters"]):
                start = time.perf_counter()
                step()
                times.append((time.perf_counter() - start) * 1000)
            answer = {"ms": times}
        else:
            answer = {"error": f"unknown command {cmd['cmd']}"}
        print(json.dumps(answer), flush=True)
