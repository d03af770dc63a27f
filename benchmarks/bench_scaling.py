#!/usr/bin/env python
"""How our U-Net's step time and peak memory grow with batch size and image resolution; plot in scaling.png.

The network is fixed (default: the CIFAR-10 preset); the batch size and the input's height = width vary. Every
(resolution, batch) point gets a forward pass (inference) and a full training step (L_simple, backward, Adam, EMA),
interleaved round by round like bench_unet.py. A straight-line fit time = fixed + per-image * B shows what a batch
costs beyond its images. See benchmarks/README.md.

    python benchmarks/bench_scaling.py                       # CPU: batches 1 4 8 16 at 16x16 and 32x32
"""
import argparse, copy, statistics, time

import torch

import _common as C
from bench_unet import forward, train_step
from ddpm_nb.diffusion import Diffusion
from ddpm_nb.schedule import beta_schedule
from ddpm_nb.unet import UNet, count_params, unet_preset


def fit_line(xs, ys)->tuple:
    "Least-squares (intercept, slope) of ys against xs."
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def plot(summary:dict, batches, resolutions, path, title:str):
    "Two panels: time per step and peak memory against batch size, one line per resolution."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.5, 3.3))
    for i, res in enumerate(resolutions):
        col = f'C{i}'
        for kind, ls in (('train', '-'), ('forward', '--')):
            s = [summary[f'{res}x{b}'][kind] for b in batches]
            med = [v['median'] for v in s]
            err = [[m - v['min'] for m, v in zip(med, s)], [v['max'] - m for m, v in zip(med, s)]]
            a1.errorbar(batches, med, yerr=err, color=col, ls=ls, marker='o', ms=3, capsize=2,
                        label=f'{res}×{res} {"train step" if kind == "train" else "forward"}')
            m = [summary[f'{res}x{b}'][f'{kind}_peak_mib']['median'] for b in batches]
            a2.plot(batches, m, color=col, ls=ls, marker='o', ms=3, label=f'{res}×{res} {kind}')
    for ax, yl in ((a1, 'seconds per step (median, min–max)'), (a2, 'peak memory above baseline, MiB')):
        ax.set_xlabel('batch size'); ax.set_ylabel(yl); ax.set_xticks(batches); ax.grid(alpha=.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f'wrote {path}')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    ap.add_argument('--preset', default='cifar10', help='U-Net preset (default cifar10)')
    ap.add_argument('--batches', default='1,4,8,16', help='comma-separated batch sizes (default 1,4,8,16)')
    ap.add_argument('--resolutions', default='16,32', help='comma-separated input sizes H = W (default 16,32)')
    ap.add_argument('--repeats', type=int, default=3, help='timed rounds after one warm-up round (default 3)')
    C.add_run_args(ap, budget_cpu=240)
    ap.add_argument('--plot', default=str(C.HERE/'scaling.png'), help='where to save the plot (default benchmarks/scaling.png)')
    a = ap.parse_args(argv)

    device = C.pick_device(a.device)
    threads = C.set_threads(device, a.threads)
    batches = [int(b) for b in a.batches.split(',')]
    resolutions = [int(r) for r in a.resolutions.split(',')]
    budget = C.Budget(a.budget or (540 if device.type == 'cuda' else 240))
    env = C.environment(device)
    torch.manual_seed(0)
    cfg = unet_preset(a.preset)
    f = 2 ** (len(cfg.ch_mult) - 1)
    if any(r % f for r in resolutions): ap.error(f'every resolution must be divisible by {f} for preset {a.preset}')
    m = UNet(cfg).to(device)
    entry = dict(module=m, call=m, ema=copy.deepcopy(m).requires_grad_(False),
                 opt=torch.optim.Adam(m.parameters(), lr=2e-4))
    d = Diffusion(beta_schedule('linear', 1000)).to(device)
    amp = lambda: torch.autocast(device.type, enabled=False)
    print(f'bench_scaling: preset {a.preset} ({count_params(m):,} parameters, built for {cfg.resolution}×{cfg.resolution}), '
          f'batches {batches}, resolutions {resolutions}, threads={threads}; load {env["load_at_start"]} on {env["cores"]} cores\n'
          f'memory: {env["memory_method"]}')

    g = torch.Generator().manual_seed(0)
    points = {}
    for res in resolutions:
        for b in batches:
            x0 = (torch.rand(b, cfg.in_channels, res, res, generator=g) * 2 - 1).to(device)
            points[f'{res}x{b}'] = (x0, torch.randint(0, 1000, (b,), generator=g).to(device), torch.randn(x0.shape, generator=g).to(device))
    raw = {k: dict(forward=[], train=[], forward_mib=[], train_mib=[]) for k in points}
    keys, round_s, loads = list(points), 0.0, [C.load()]
    for r in range(a.repeats + 1):                      # round 0 warms up every shape
        if r > 1 and not budget.fits(round_s):
            print(f'  time budget reached: {r - 1} timed rounds instead of {a.repeats}'); break
        t_round = time.perf_counter()
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            x0, t, noise = points[k]
            with C.Measure(device) as mf: forward(entry, x0, t, amp)
            with C.Measure(device) as mt: train_step(entry, d, x0, t, noise, amp)
            if r:
                raw[k]['forward'].append(mf.seconds); raw[k]['train'].append(mt.seconds)
                raw[k]['forward_mib'].append(mf.peak_mib); raw[k]['train_mib'].append(mt.peak_mib)
        round_s = time.perf_counter() - t_round
        loads.append(C.load())
        print(f'  round {r}{" (warm-up)" if not r else ""}: {round_s:.1f} s, load {loads[-1][0]}', flush=True)

    summary = {k: dict(forward=C.stats(v['forward']), train=C.stats(v['train']),
                       forward_peak_mib=C.stats(v['forward_mib']), train_peak_mib=C.stats(v['train_mib'])) for k, v in raw.items()}
    fits = {}
    print(f'\n{"size":>6s} {"batch":>5s} {"forward ms":>22s} {"train step ms":>24s} {"train ms/image":>14s} {"fwd MiB":>8s} {"train MiB":>9s}')
    rows = []
    for res in resolutions:
        for b in batches:
            s = summary[f'{res}x{b}']
            print(f'{res:>4d}²  {b:>5d} {C.fmt_ms(s["forward"]):>22s} {C.fmt_ms(s["train"]):>24s} '
                  f'{s["train"]["median"] / b * 1e3:>14,.0f} {s["forward_peak_mib"]["median"]:>8.0f} {s["train_peak_mib"]["median"]:>9.0f}')
            rows.append(f'| {res}×{res} | {b} | {C.fmt_ms(s["forward"])} | {C.fmt_ms(s["train"])} | '
                        f'{s["train"]["median"] / b * 1e3:,.0f} | {s["forward_peak_mib"]["median"]:.0f} | {s["train_peak_mib"]["median"]:.0f} |')
        tr = fit_line(batches, [summary[f'{res}x{b}']['train']['median'] for b in batches])
        mem = fit_line(batches, [summary[f'{res}x{b}']['train_peak_mib']['median'] for b in batches])
        fits[res] = dict(train_fixed_s=tr[0], train_per_image_s=tr[1], train_mib_fixed=mem[0], train_mib_per_image=mem[1])
        print(f'  {res}×{res}: train step ≈ {tr[0] * 1e3:,.0f} ms + {tr[1] * 1e3:,.0f} ms × B; '
              f'peak memory ≈ {mem[0]:,.0f} MiB + {mem[1]:,.0f} MiB × B')
    lo, hi = resolutions[0], resolutions[-1]
    if lo != hi:
        per = {res: fits[res]['train_per_image_s'] for res in (lo, hi)}
        print(f'  per-image train cost {hi}² / {lo}²: {per[hi] / per[lo]:.2f} (pixels: {(hi / lo) ** 2:.0f}x)')
    print(f'load (1/5/15 min) at the start and after each round: {loads}; {budget.elapsed():.0f} s in all')
    env['load_during'] = loads

    n_rounds = min(s['train']['n'] for s in summary.values())
    plot(summary, batches, resolutions, a.plot,
         f'ddpm_nb U-Net ({a.preset}, {count_params(m) / 1e6:.1f} M parameters) on {device.type.upper()}, {threads} thread(s); '
         f'median of {n_rounds} rounds, load {min(l[0] for l in loads):.1f}–{max(l[0] for l in loads):.1f}')
    if a.json:
        C.write_json(a.json, dict(script='bench_scaling', environment=env, preset=a.preset, batches=batches,
                                  resolutions=resolutions, results=summary, fits={str(k): v for k, v in fits.items()}))
    if not a.no_readme:
        head = (f'Measured {env["date"]} on {env["cpu"] if device.type == "cpu" else env.get("gpu")}, torch {env["torch"]}, '
                f'{threads} thread(s); preset `{a.preset}`, the same network fed {" and ".join(f"{r}×{r}" for r in resolutions)} '
                f'inputs; median [min–max] of {n_rounds} interleaved rounds. Load average (1 min) '
                f'{min(l[0] for l in loads):.1f}–{max(l[0] for l in loads):.1f} on {env["cores"]} cores. '
                f'Peak memory: {env["memory_method"]}.')
        fit_lines = '\n'.join(f'- {r}×{r}: train step ≈ {v["train_fixed_s"] * 1e3:,.0f} ms + {v["train_per_image_s"] * 1e3:,.0f} ms '
                              f'per image; peak memory ≈ {v["train_mib_fixed"]:,.0f} MiB + {v["train_mib_per_image"]:,.0f} MiB per image'
                              for r, v in fits.items())
        table = ['| input | batch | forward ms | train step ms | train ms / image | forward peak MiB | train step peak MiB |',
                 '|---|--:|--:|--:|--:|--:|--:|'] + rows
        C.update_readme(f'bench_scaling-{device.type}', head + '\n\n' + '\n'.join(table) + '\n\nStraight-line fits:\n\n'
                        + fit_lines + '\n\n![step time and memory against batch size](scaling.png)')


if __name__ == '__main__':
    main()
