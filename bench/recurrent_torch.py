"""PyTorch side of the recurrent-layer micro-benchmark (bench/recurrent.sh).

The same measurements as `cargo bench --bench recurrent -- --json`: one layer
of torch.nn.RNN / LSTM / GRU, input width = hidden, length 20, batch-first,
f32, forward (under no_grad, as inference) and forward + backward of
`out.sum() + h_n.sum()`, median seconds over repeats. One JSON object per
line on stdout.
"""

import argparse
import json
import time

import torch

LEN = 20


def timed(f, budget):
    f()
    start = time.perf_counter()
    f()
    once = max(time.perf_counter() - start, 1e-7)
    reps = max(1, int(-(-0.05 // once)))
    rounds = min(15, max(3, int(budget / (once * reps))))
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            f()
        samples.append((time.perf_counter() - start) / reps)
    samples.sort()
    return samples[len(samples) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    # One case only, as `cargo bench --bench recurrent -- --cell C --hidden H --batch B`.
    ap.add_argument("--cell", choices=["rnn", "lstm", "gru"])
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--batch", type=int)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(7)
    hiddens, batches = ([256], [1, 64]) if args.quick else ([128, 256, 512], [1, 16, 64])
    budget = 0.3 if args.quick else 0.6
    cells = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
    if args.hidden:
        hiddens = [args.hidden]
    if args.batch:
        batches = [args.batch]
    for name, cls in cells.items():
        if args.cell and name != args.cell:
            continue
        for h in hiddens:
            layer = cls(h, h, batch_first=True)
            for b in batches:
                x = torch.randn(b, LEN, h, requires_grad=True)

                def fwd():
                    with torch.no_grad():
                        layer(x)

                def fwd_bwd():
                    for p in layer.parameters():
                        p.grad = None
                    x.grad = None
                    out, state = layer(x)
                    hn = state[0] if isinstance(state, tuple) else state
                    (out.sum() + hn.sum()).backward()

                for pass_name, f in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
                    seconds = timed(f, budget)
                    print(
                        json.dumps(
                            {
                                "impl": "torch",
                                "torch": torch.__version__,
                                "cell": name,
                                "hidden": h,
                                "batch": b,
                                "len": LEN,
                                "pass": pass_name,
                                "threads": args.threads,
                                "seconds": seconds,
                            }
                        ),
                        flush=True,
                    )


if __name__ == "__main__":
    main()
