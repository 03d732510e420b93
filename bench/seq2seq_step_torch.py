"""PyTorch side of the seq2seq training-step benchmark (bench/seq2seq_step.sh).

The PyTorch tutorial's EncoderRNN + AttnDecoderRNN (GRU 256, attention over
max_length 10 positions, dropout 0.1), written for a batch (the tutorial's
own code is batch 1 only; at batch 1 this is the same computation), source
and target 8 tokens, teacher forcing, NLLLoss over log_softmax, SGD lr 0.01.
One step = forward + backward + SGD, as `cargo bench --bench seq2seq_step`.
One JSON object per batch size on stdout.
"""

import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SRC_V, TGT_V, H, MAX_LEN, LEN = 4345, 2803, 256, 10, 8
SOS, EOS = 0, 1


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(SRC_V, H)
        self.gru = nn.GRU(H, H, batch_first=True)

    def forward(self, src):
        return self.gru(self.embedding(src))


class AttnDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(TGT_V, H)
        self.attn = nn.Linear(2 * H, MAX_LEN)
        self.attn_combine = nn.Linear(2 * H, H)
        self.dropout = nn.Dropout(0.1)
        self.gru = nn.GRU(H, H, batch_first=True)
        self.out = nn.Linear(H, TGT_V)

    def forward(self, token, hidden, enc_outputs):
        emb = self.dropout(self.embedding(token))  # [B, H]
        weights = F.softmax(self.attn(torch.cat((emb, hidden[0]), 1)), dim=1)
        applied = torch.bmm(weights.unsqueeze(1), enc_outputs).squeeze(1)
        x = F.relu(self.attn_combine(torch.cat((emb, applied), 1)))
        out, hidden = self.gru(x.unsqueeze(1), hidden)
        return F.log_softmax(self.out(out.squeeze(1)), dim=1), hidden


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    for b in (1, 64):
        enc, dec = Encoder(), AttnDecoder()
        params = list(enc.parameters()) + list(dec.parameters())
        opt = torch.optim.SGD(params, lr=0.01)
        src = torch.randint(3, SRC_V, (b, LEN))
        src[:, -1] = EOS
        tgt = torch.randint(3, TGT_V, (b, LEN))
        tgt[:, -1] = EOS
        crit = nn.NLLLoss()

        def step():
            opt.zero_grad()
            enc_out, hidden = enc(src)
            padded = torch.zeros(b, MAX_LEN, H)
            padded[:, :LEN] = enc_out
            token = torch.full((b,), SOS, dtype=torch.long)
            loss = 0.0
            for t in range(LEN):
                logp, hidden = dec(token, hidden, padded)
                loss = loss + crit(logp, tgt[:, t])
                token = tgt[:, t]
            (loss / LEN).backward()
            opt.step()

        for _ in range(3):
            step()
        steps = 300 if b == 1 else 40
        start = time.perf_counter()
        for _ in range(steps):
            step()
        per_s = steps / (time.perf_counter() - start)
        print(json.dumps({"impl": "torch", "torch": torch.__version__, "batch": b,
                          "threads": args.threads, "steps_per_second": per_s}), flush=True)


if __name__ == "__main__":
    main()
