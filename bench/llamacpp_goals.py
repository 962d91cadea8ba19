#!/usr/bin/env python3
"""Judges a `bench/llamacpp.sh` run against issue 7's goals and prints one JSON object.

    python3 bench/llamacpp_goals.py llamacpp-vs-storywriter.json

The rule for noise (this VM swings by up to 40% from one minute to the next): llamacpp.sh runs every test in
ROUNDS rounds, each engine right after the other; a test's speed in a round is the median of its repetitions
(llama-bench's samples, our --repetitions); a goal is judged on the ratio of the two engines' medians over
all rounds. Each goal also shows the ratio in every round and in how many rounds it alone would have passed.
"""
import json
import statistics
import sys


def speed(run):
    """Tokens per second of one test in one round: the median of its repetitions."""
    results = run["results"]
    if run["engine"] == "llama.cpp":
        return statistics.median(results[0]["samples_ts"])
    if results["decode"] > 0 and results["context"] == 0:
        return results["decode_tokens_per_second"]
    return results["prefill_tokens_per_second"]


def main(path):
    report = json.load(open(path))
    rounds = {}  # (engine, test) -> speed in each round, in order
    for run in report["runs"]:
        rounds.setdefault((run["engine"], run["test"]), []).append(speed(run))

    def has(engine, test):
        return (engine, test) in rounds

    goals = []

    def goal(name, engine, test, base_engine, base_test, threshold):
        if not (has(engine, test) and has(base_engine, base_test)):
            return
        ours, theirs = rounds[(engine, test)], rounds[(base_engine, base_test)]
        ratio = statistics.median(ours) / statistics.median(theirs)
        per_round = [a / b for a, b in zip(ours, theirs)]
        goals.append({
            "goal": name,
            "threshold": threshold,
            "ratio_of_medians": round(ratio, 3),
            "met": ratio >= threshold,
            "ratio_in_each_round": [round(r, 3) for r in per_round],
            "rounds_met": sum(r >= threshold for r in per_round),
            "rounds": len(per_round),
            "median_tokens_per_second": {
                f"{engine} {test}": round(statistics.median(ours), 1),
                f"{base_engine} {base_test}": round(statistics.median(theirs), 1),
            },
        })

    sw, llama = "storywriter", "llama.cpp"
    goal("pp512 f32: >= 1.5x llama.cpp", sw, "pp512 f32", llama, "pp512 f32", 1.5)
    goal("pp512 bf16: >= 1.2x llama.cpp", sw, "pp512 bf16", llama, "pp512 bf16", 1.2)
    depths = sorted({int(test.split()[3]) for engine, test in rounds if engine == sw and " depth " in test})
    for depth in depths:
        for kv in ("f32", "f16"):
            goal(f"pp512 at depth {depth}, {kv} KV: >= 2x llama.cpp (f16 KV)",
                 sw, f"pp512 f32 depth {depth} {kv} KV", llama, f"pp512 f32 depth {depth} f16 KV", 2.0)
    goal("pp512 at depth 4096, q8 KV: >= 5x llama.cpp q8_0 KV",
         sw, "pp512 f32 depth 4096 q8 KV", llama, "pp512 f32 depth 4096 q8_0 KV", 5.0)
    goal("pp512 at depth 4096, q8 KV: >= 0.7x our f32 KV",
         sw, "pp512 f32 depth 4096 q8 KV", sw, "pp512 f32 depth 4096 f32 KV", 0.7)
    goal("tg32 f32: >= 0.95x llama.cpp", sw, "tg32 f32", llama, "tg32 f32", 0.95)
    goal("tg32 bf16: >= 0.95x llama.cpp", sw, "tg32 bf16", llama, "tg32 bf16", 0.95)
    goal("tg32 --weights q8: >= 1.6x our bf16", sw, "tg32 q8 weights (from bf16)", sw, "tg32 bf16", 1.6)

    print(json.dumps({
        "rule": "ratio of the two engines' medians over all rounds; each round's speed is the median of its repetitions",
        "rounds": max(len(speeds) for speeds in rounds.values()),
        "all_goals_met": all(g["met"] for g in goals),
        "goals": goals,
    }, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: llamacpp_goals.py RESULTS.json (the JSON that bench/llamacpp.sh writes)")
    main(sys.argv[1])
