"""Timing twin of `piflow bench --dataset mnist` on the PyTorch peer (issue 9's MNIST rows).

The peer's MNIST recipe (../shared/peer/mnist/common.py, the PAPER.md recipe): the full patch-2 U-Net
teacher (677,540 parameters), one flow-matching step at batch 128 (Adam, clip 1.0), and one π-ID
iteration of the GMFlow student (K = 8, 2 NFE, 128 substeps, 2 intermediate states, GM dropout 0.05)
at batch 64, with the peer's own `piid_step` plus its Adam step. Untrained weights and synthetic images
(timings only), as in the tfjs benchmark. Prints one JSON line: seconds per step (median of --reps
after a warm-up), the repeats, CPU utilisation and the load average.

Needs ../shared (the peer) and torch; nothing is written under ../shared.
usage: /usr/bin/python3 scripts/peer-mnist-bench.py [--threads 1] [--reps 3]
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# PIFLOW_PEER_MNIST: another copy of the peer's mnist folder (scripts/gpu-run.sh carries one)
PEER = os.environ.get('PIFLOW_PEER_MNIST') or os.path.join(HERE, '..', '..', 'shared', 'peer', 'mnist')
sys.path.insert(0, PEER)

ap = argparse.ArgumentParser()
ap.add_argument('--threads', type=int, default=1)
ap.add_argument('--reps', type=int, default=3)
a = ap.parse_args()

import common as C  # noqa: E402  (the peer's module)
import torch  # noqa: E402

C.reexec_with_static_malloc()  # the peer's own setting (it re-executes once)
torch.set_num_threads(a.threads)
torch.manual_seed(0)


def timed(fn, reps):
    fn()  # warm-up
    c0 = time.process_time()
    w0 = time.perf_counter()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    util = (time.process_time() - c0) / (time.perf_counter() - w0)
    return dict(s=round(statistics.median(ts), 3), repeat_s=[round(t, 3) for t in ts], cpu_util=round(util, 2))


synthetic = lambda n: torch.tanh(torch.randn(n, 1, 28, 28))

teacher = C.Teacher()
opt_t = torch.optim.Adam(teacher.parameters(), lr=1e-4)


def teacher_step():
    x0 = synthetic(128)
    sigma = torch.rand(128)
    eps = torch.randn_like(x0)
    s = sigma.reshape(-1, 1, 1, 1)
    xt = (1 - s) * x0 + s * eps
    loss = (teacher(xt, sigma) - (eps - x0)).square().mean()
    opt_t.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(teacher.parameters(), 1.0)
    opt_t.step()


res = dict(threads=a.threads, torch=torch.__version__, params=C.n_params(teacher))
res['teacher_step'] = timed(teacher_step, a.reps)

frozen = C.Teacher()
frozen.eval()
for p in frozen.parameters():
    p.requires_grad_(False)
student = C.GMStudent(K=8)
student.init_from_teacher(frozen)
opt_s = torch.optim.Adam(student.parameters(), lr=2e-4, betas=(0.9, 0.95))


def piid_iter():
    C.piid_step(student, frozen, opt_s, synthetic(64), kind='gm', nfe=2, total_substeps=128, n_inter=2,
                eps_train=1e-6, gm_dropout=0.05, counter={}, window_substeps=0)
    opt_s.step()


res['piid_iter'] = timed(piid_iter, a.reps)
res['load_avg'] = [round(v, 2) for v in os.getloadavg()]
print(json.dumps(res))
