#!/usr/bin/env python
"""Time `Trainer.step` (09_train) against a bare loop doing the same arithmetic, in one process.

The bare loop is Algorithm 1 written out with no trainer around it: fetch the seeded batch, draw t and ε from the
step's generator, set the learning rate, loss, backward, clip, Adam, EMA. Both start from the same weights on the
same global batches, so their losses must agree bit for bit (checked every step): the ratio compares the
overhead of the trainer's structure (state object, objective lookup, callbacks are not involved in `step`), not
different work. Rounds alternate which of the two goes first, so that a change of machine load hits both alike.

    python benchmarks/bench_train.py                      # the default digits run's step (batch 128), 1 thread
    python benchmarks/bench_train.py --rounds 12 --steps 5 --json bench_train.json
"""
import argparse, copy, statistics, tempfile, time
from pathlib import Path

import torch

import _common as C
from ddpm_nb.config import TrainConfig
from ddpm_nb.train import Trainer, lr_at, ema_decay_at, ema_update, step_noise
from ddpm_nb.data import seeded_generator


class Bare:
    "The same model, EMA, optimiser and data as `tr`, copied, and a step written out with nothing around it."
    def __init__(self, tr:Trainer):
        self.cfg, self.data, self.sampler, self.diffusion = tr.cfg, tr.data, tr.sampler, tr.diffusion
        self.model = copy.deepcopy(tr.model)
        self.ema = copy.deepcopy(tr.ema)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=tr.cfg.lr)
        self.shape, self.step = tr.shape, tr.state.step
        self.amp_dtype = tr.amp_dtype                             # bf16 autocast on a CPU with native bf16 (cpu_bf16)

    def __call__(self)->float:
        cfg, s = self.cfg, self.step
        x0 = self.data.get_batch(self.sampler.indices(s), seeded_generator(cfg.seed, s, 1, 0))   # (B, C, H, W)
        t, noise = step_noise(cfg, s, self.shape)
        torch.manual_seed(seeded_generator(cfg.seed, s, 3, 0).initial_seed())
        for g in self.opt.param_groups:
            g['lr'] = lr_at(cfg, s)
        with torch.autocast(x0.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            loss = self.diffusion.loss(self.model, x0, pred=cfg.pred, t=t, noise=noise, loss_type=cfg.loss, var=cfg.var)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        ema_update(self.ema, self.model, ema_decay_at(cfg, s))
        self.step += 1
        return loss.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rounds', type=int, default=8, help='measuring rounds')
    ap.add_argument('--steps', type=int, default=4, help='steps of each loop per round')
    ap.add_argument('--threads', type=int, default=1, help='torch threads (1: steadiest on a shared CPU)')
    ap.add_argument('--json', default=None, help='also write the numbers to benchmarks/results/JSON')
    a = ap.parse_args()
    dev = torch.device('cpu')
    C.set_threads(dev, a.threads)
    env = C.environment(dev)
    tr = Trainer(TrainConfig(), Path(tempfile.mkdtemp())/'run', progress=False, log=lambda *x: None)
    bare = Bare(tr)
    for _ in range(2):                                            # warm-up, also checks that the two agree
        assert float(tr.step()['loss']) == bare()
    times = {'trainer': [], 'bare': []}
    for r in range(a.rounds):
        order = [('trainer', lambda: float(tr.step()['loss'])), ('bare', bare)]
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            t0 = time.perf_counter()
            losses = [fn() for _ in range(a.steps)]
            times[name].append((time.perf_counter() - t0) / a.steps)
            if name == 'trainer':
                ours = losses
            else:
                theirs = losses
        assert ours == theirs, (r, ours, theirs)                # the same arithmetic, bit for bit
    ratios = [t / b for t, b in zip(times['trainer'], times['bare'])]
    res = dict(env=env, load_at_end=C.load(), batch=tr.cfg.batch_size, steps_per_round=a.steps,
               trainer_ms=[round(1e3 * x, 2) for x in times['trainer']], bare_ms=[round(1e3 * x, 2) for x in times['bare']],
               ratio_median=statistics.median(ratios), ratio_of_medians=statistics.median(times['trainer'])
               / statistics.median(times['bare']))
    print(f'Trainer.step vs bare loop, digits default (batch {tr.cfg.batch_size}), {a.threads} thread(s), '
          f'{a.rounds} rounds x {a.steps} steps; load {env["load_at_start"]} -> {res["load_at_end"]}')
    print(f'  median step: trainer {1e3 * statistics.median(times["trainer"]):.1f} ms, '
          f'bare {1e3 * statistics.median(times["bare"]):.1f} ms')
    print(f'  ratio trainer/bare: median of rounds {res["ratio_median"]:.3f}, of medians {res["ratio_of_medians"]:.3f} '
          f'(losses identical in every round)')
    if a.json:
        C.write_json(C.HERE/'results'/a.json, res)


if __name__ == '__main__':
    main()
