#!/usr/bin/env python
"""Time `Trainer.step` (09_train) against a bare loop doing the same arithmetic, and the step's FLOP/s against the
machine's matmul FLOP/s, in one process.

The bare loop is Algorithm 1 written out with no trainer around it: fetch the seeded batch, draw t and ε from the
step's generator, set the learning rate, loss, backward, clip, Adam, EMA. Both start from the same weights on the
same global batches, so their losses must agree bit for bit (checked every step): the ratio compares the
overhead of the trainer's structure (state object, objective lookup, callbacks are not involved in `step`), not
different work. Rounds alternate which of the two goes first, so that a change of machine load hits both alike.

Then (`--flops`, on by default) the achieved FLOP/s of a train step as a fraction of the same machine's measured
dense-matmul FLOP/s (a 2048 x 2048 product, same threads, same dtype): for our step as `ddpm_train` runs it in each
precision and memory format, and for diffusers' UNet2DModel built as the same network (`diffusers_unet_config`,
our weights copied) trained by the same loss, optimiser and batches. The step's floating-point operations are
counted by `torch.utils.flop_counter` (convolutions, matmuls and attention, forward and backward; normalisations
and element-wise ops are not counted, so the fraction is of the useful dense work).

    python benchmarks/bench_train.py                      # the default digits run's step (batch 128), 1 thread
    python benchmarks/bench_train.py --rounds 12 --steps 5 --json bench_train.json
    python benchmarks/bench_train.py --threads 2 --no-overhead   # only the FLOP/s fractions, 2 threads
"""
import argparse, copy, dataclasses, statistics, tempfile, time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import _common as C
from ddpm_nb.config import TrainConfig
from ddpm_nb.train import Trainer, lr_at, ema_decay_at, ema_update, step_noise, to_device
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
        self.channels_last = tr.channels_last                     # fp32 on a CPU: channels-last batches too

    def __call__(self)->float:
        cfg, s = self.cfg, self.step
        x0 = self.data.get_batch(self.sampler.indices(s), seeded_generator(cfg.seed, s, 1, 0))   # (B, C, H, W)
        t, noise = step_noise(cfg, s, self.shape)
        x0, noise = to_device(x0, 'cpu', self.channels_last), to_device(noise, 'cpu', self.channels_last)
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


def matmul_flops(dtype:torch.dtype, n:int=2048, rounds:int=5)->float:
    "The best FLOP/s of an n x n x n matrix product in `dtype` over a few rounds (the machine's dense peak, near)."
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(4): a @ b
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t0))
    return best


class DiffusersStep:
    "diffusers' UNet2DModel as the same network (our weights), trained by the step of `tr`: loss, clip, Adam, EMA."
    def __init__(self, tr:Trainer):
        from diffusers import UNet2DModel
        from ddpm_nb.interop import diffusers_unet_config, weights_to_diffusers
        cfg = diffusers_unet_config(tr.model.cfg)
        self.model = UNet2DModel(**{k: v for k, v in cfg.items() if not k.startswith('_')})
        self.model.load_state_dict(weights_to_diffusers(tr.model))
        if tr.channels_last: self.model = self.model.to(memory_format=torch.channels_last)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=tr.cfg.lr)
        self.tr, self.step = tr, tr.state.step

    def __call__(self)->float:
        tr, s = self.tr, self.step
        x0, (t, noise) = tr.get_batch(s), step_noise(tr.cfg, s, tr.shape)
        noise = to_device(noise, 'cpu', tr.channels_last)
        with torch.autocast('cpu', dtype=tr.amp_dtype or torch.float32, enabled=tr.amp_dtype is not None):
            xt = tr.diffusion.q_sample(x0, t, noise)
            w = tr.diffusion.min_snr_weight(t).float().view(-1, 1, 1, 1)   # the default loss (min-SNR-5)
            loss = (w * (self.model(xt, t).sample - noise) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), tr.cfg.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        ema_update(self.ema, self.model, ema_decay_at(tr.cfg, s))
        self.step += 1
        return loss.item()


def step_flops(fn)->int:
    "Floating-point operations of one call of a train step `fn`, as torch's flop counter sees them."
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def flops_report(rounds:int, steps:int)->dict:
    """Achieved FLOP/s of the default digits train step, ours in each precision and format and diffusers', as
    fractions of this machine's matmul FLOP/s in the step's dtype, measured in this process."""
    peak = {'fp32': matmul_flops(torch.float32), 'bf16': matmul_flops(torch.bfloat16)}
    paths = {'fp32, NCHW': dict(cpu_bf16=False, channels_last=False), 'fp32, channels-last (default)':
             dict(cpu_bf16=False), 'bf16 autocast (default where native)': dict(cpu_bf16=True)}
    steps_of = {}
    for name, over in paths.items():
        tr = Trainer(dataclasses.replace(TrainConfig(), **over), Path(tempfile.mkdtemp())/'run', progress=False,
                     log=lambda *x: None)
        steps_of[f'ours, {name}'] = (lambda tr=tr: float(tr.step()['loss']), tr)
        if over.get('channels_last', True):
            try:
                steps_of[f'diffusers, {name}'] = (DiffusersStep(tr), tr)
            except ImportError:
                print('  (diffusers not installed: pip install diffusers; its rows are left out)')
    rows, work = {}, None
    for name, (fn, tr) in steps_of.items():
        for _ in range(2): fn()                                   # warm-up
        if work is None:                                          # the first path: ours, fp32
            work = step_flops(fn)                                 # one count for the network, whatever the path
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(steps): fn()
            times.append((time.perf_counter() - t0) / steps)
        dtype = 'bf16' if tr.amp_dtype is not None else 'fp32'
        sec = statistics.median(times)
        rows[name] = dict(ms=round(1e3 * sec, 1), gflops=round(work / sec / 1e9, 1), dtype=dtype,
                          fraction=round(work / sec / peak[dtype], 3))
    return dict(matmul_gflops={k: round(v / 1e9, 1) for k, v in peak.items()}, step_gflop=round(work / 1e9, 2),
                steps=rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rounds', type=int, default=8, help='measuring rounds')
    ap.add_argument('--steps', type=int, default=4, help='steps of each loop per round')
    ap.add_argument('--threads', type=int, default=1, help='torch threads (1: steadiest on a shared CPU)')
    ap.add_argument('--json', default=None, help='also write the numbers to benchmarks/results/JSON')
    ap.add_argument('--no-overhead', dest='overhead', action='store_false', help='skip the trainer-vs-bare timing')
    ap.add_argument('--no-flops', dest='flops', action='store_false', help='skip the FLOP/s fractions')
    a = ap.parse_args()
    dev = torch.device('cpu')
    C.set_threads(dev, a.threads)
    env = C.environment(dev)
    res = dict(env=env)
    if a.overhead:
        res['overhead'] = overhead_report(a)
    if a.flops:
        res['flops'] = f = flops_report(a.rounds, a.steps)
        print(f'Train step ({f["step_gflop"]:.1f} GFLOP) FLOP/s as a fraction of this machine\'s matmul FLOP/s '
              f'({a.threads} thread(s); matmul fp32 {f["matmul_gflops"]["fp32"]:.0f}, bf16 '
              f'{f["matmul_gflops"]["bf16"]:.0f} GFLOP/s):')
        for name, r in f['steps'].items():
            print(f'  {name:48s} {r["ms"]:6.1f} ms = {r["gflops"]:6.1f} GFLOP/s, '
                  f'{100 * r["fraction"]:4.1f}% of {r["dtype"]} matmul')
    res['load_at_end'] = C.load()
    if a.json:
        C.write_json(C.HERE/'results'/a.json, res)


def overhead_report(a)->dict:
    "Trainer.step against the bare loop, alternating rounds; the two must agree bit for bit."
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
    res = dict(batch=tr.cfg.batch_size, steps_per_round=a.steps,
               trainer_ms=[round(1e3 * x, 2) for x in times['trainer']], bare_ms=[round(1e3 * x, 2) for x in times['bare']],
               ratio_median=statistics.median(ratios), ratio_of_medians=statistics.median(times['trainer'])
               / statistics.median(times['bare']))
    print(f'Trainer.step vs bare loop, digits default (batch {tr.cfg.batch_size}), {a.threads} thread(s), '
          f'{a.rounds} rounds x {a.steps} steps; load at the end {C.load()}')
    print(f'  median step: trainer {1e3 * statistics.median(times["trainer"]):.1f} ms, '
          f'bare {1e3 * statistics.median(times["bare"]):.1f} ms')
    print(f'  ratio trainer/bare: median of rounds {res["ratio_median"]:.3f}, of medians {res["ratio_of_medians"]:.3f} '
          f'(losses identical in every round)')
    return res


if __name__ == '__main__':
    main()
