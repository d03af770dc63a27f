#!/usr/bin/env python
"""Time our CIFAR-10 U-Net against diffusers' UNet2DModel and lucidrains' Unet: forward pass and full training step.

All three networks run in one process on the same inputs, their measurements interleaved round by round (the
order rotated each round), so that a change of machine load hits each of them alike; the ratios ours/peer are the
numbers to read. See benchmarks/README.md.

    python benchmarks/bench_unet.py                          # CPU, batch 8, fp32
    python benchmarks/bench_unet.py --precision fp32,bf16    # CPU bf16 autocast as well (fast on avx512_bf16/AMX CPUs)
    python benchmarks/bench_unet.py --preset digits --batch 128 --precision fp32,bf16   # the default run's U-Net
    python benchmarks/bench_unet.py --device cuda --compile  # GPU: batch 128, fp32 and bf16 autocast, channels_last
    python benchmarks/bench_unet.py --device cuda --fast-paths  # ours only: channels_last and torch.compile off/on
"""
import argparse, copy, statistics, time

import torch

import _common as C
from ddpm_nb.diffusion import Diffusion
from ddpm_nb.interop import diffusers_unet_config
from ddpm_nb.schedule import beta_schedule
from ddpm_nb.train import ema_update
from ddpm_nb.unet import UNet, count_params, unet_preset

PEERS = ('diffusers', 'lucidrains')


def build(name:str, cfg)->tuple:
    "(module, call) for one network; `call(x, t)` returns the ε prediction as a tensor."
    if name == 'ours':
        m = UNet(cfg)
        return m, m
    if name == 'diffusers':
        from diffusers import UNet2DModel
        m = UNet2DModel(**{k: v for k, v in diffusers_unet_config(cfg).items() if not k.startswith('_')})
        return m, lambda x, t: m(x, t, return_dict=False)[0]
    from denoising_diffusion_pytorch import Unet
    # the README's configuration; dropout as in Ho's CIFAR-10 run, like the other two, so train steps do the same work
    m = Unet(dim=cfg.ch, dim_mults=cfg.ch_mult, dropout=cfg.dropout)
    return m, m


FAST_PATHS = {'ours': (False, False), 'ours+channels_last': (True, False), 'ours+compile': (False, True),
              'ours+channels_last+compile': (True, True)}   # name: (channels_last, compile)


def make_models(cfg, device, channels_last:bool, compile:bool, fast_paths:bool=False)->dict:
    "Every network that can be built here (or, with `fast_paths`, ours in each FAST_PATHS setting), each with its EMA copy and Adam."
    models, missing = {}, {}
    specs = ({n: ('ours', *v) for n, v in FAST_PATHS.items()} if fast_paths
             else {n: (n, channels_last, compile) for n in ('ours', *PEERS)})
    for name, (kind, cl, comp) in specs.items():
        try: m, call = build(kind, cfg)
        except ImportError as e:
            missing[name] = f'{type(e).__name__}: {e}'
            print(f'skipping {name}: {missing[name]}'); continue
        m = m.to(device)
        if cl: m = m.to(memory_format=torch.channels_last)
        ema = copy.deepcopy(m).requires_grad_(False)
        if comp: call = torch.compile(call)
        models[name] = dict(module=m, call=call, ema=ema, opt=torch.optim.Adam(m.parameters(), lr=2e-4),
                            params=count_params(m), channels_last=cl)
    return models, missing


def forward(entry, x, t, amp):
    "One forward pass for inference."
    entry['module'].eval()
    with torch.inference_mode(), amp(): entry['call'](x, t)


def train_step(entry, d:Diffusion, x0, t, noise, amp):
    "Algorithm 1 once: L_simple at the given (t, ε), backward, Adam, EMA; the same code for every network."
    m = entry['module']; m.train()
    with amp(): loss = d.loss(entry['call'], x0, t=t, noise=noise)       # q_sample, network, MSE to ε
    loss.backward()
    entry['opt'].step(); entry['opt'].zero_grad(set_to_none=True)
    ema_update(entry['ema'], m, 0.9999)


def run(models:dict, d, x0, t, noise, device, amp, repeats:int, budget:C.Budget, loads:list)->dict:
    "Warm up, then `repeats` interleaved rounds (fewer if the time budget runs out); all measurements per network."
    names = list(models)
    res = {n: dict(forward=[], train=[], forward_mib=[], train_mib=[]) for n in names}
    fmt = lambda v, cl: v.contiguous(memory_format=torch.channels_last if cl else torch.contiguous_format)
    inputs = {cl: (fmt(x0, cl), fmt(noise, cl)) for cl in {m['channels_last'] for m in models.values()}}  # converted untimed
    round_s, done = 0.0, 0
    for r in range(repeats + 1):                      # round 0 is the warm-up, not recorded
        if r > 1 and not budget.fits(round_s):
            print(f'  time budget reached: {done} timed rounds instead of {repeats}'); break
        t_round = time.perf_counter()
        order = names[r % len(names):] + names[:r % len(names)]       # ABC, BCA, CAB, ...
        # all forwards, then all train steps: the measurements paired in a ratio lie seconds apart
        for n in order:
            x0, noise = inputs[models[n]['channels_last']]
            with C.Measure(device) as mf: forward(models[n], x0, t, amp)
            if r: res[n]['forward'].append(mf.seconds); res[n]['forward_mib'].append(mf.peak_mib)
        for n in order:
            x0, noise = inputs[models[n]['channels_last']]
            with C.Measure(device) as mt: train_step(models[n], d, x0, t, noise, amp)
            if r: res[n]['train'].append(mt.seconds); res[n]['train_mib'].append(mt.peak_mib)
        round_s = time.perf_counter() - t_round
        done = r
        loads.append(C.load())
        print(f'  round {r}{" (warm-up)" if not r else ""}: {round_s:.1f} s, load {loads[-1][0]}', flush=True)
    return res


def summarize(res:dict)->dict:
    "Medians and spreads per network; ratios ours/peer of the medians and the range of the per-round (paired) ratios."
    out = {n: dict(forward=C.stats(v['forward']), train=C.stats(v['train']),
                   forward_peak_mib=C.stats(v['forward_mib']), train_peak_mib=C.stats(v['train_mib'])) for n, v in res.items()}
    for p in res:
        if p == 'ours' or 'ours' not in res: continue
        for k in ('forward', 'train'):
            paired = [a / b for a, b in zip(res['ours'][k], res[p][k])]
            out['ours'][f'{k}_ratio_vs_{p}'] = dict(of_medians=out['ours'][k]['median'] / out[p][k]['median'],
                                                    paired_median=statistics.median(paired),
                                                    paired_min=min(paired), paired_max=max(paired))
    return out


def report(summary:dict, models:dict, precision:str)->list:
    "Print the table for one precision; return its Markdown rows."
    rows, w = [], max(11, *map(len, summary))
    print(f'\n{precision}: times in ms, median [min-max] over rounds; peak memory in MiB (median)')
    print(f'{"model":{w}s} {"params":>11s} {"forward":>24s} {"train step":>24s} {"fwd MiB":>8s} {"train MiB":>9s}')
    for n, s in summary.items():
        print(f'{n:{w}s} {models[n]["params"]:>11,} {C.fmt_ms(s["forward"]):>24s} {C.fmt_ms(s["train"]):>24s} '
              f'{s["forward_peak_mib"]["median"]:>8.0f} {s["train_peak_mib"]["median"]:>9.0f}')
        r_f = r_t = '1 (reference)' if n == 'ours' else '—'
        if n != 'ours' and f'forward_ratio_vs_{n}' in summary['ours']:
            rf, rt = summary['ours'][f'forward_ratio_vs_{n}'], summary['ours'][f'train_ratio_vs_{n}']
            r_f, r_t = (f"**{q['of_medians']:.2f}** ({q['paired_median']:.2f}; {q['paired_min']:.2f}–{q['paired_max']:.2f})"
                        for q in (rf, rt))
            print(f'{"":{w}s} ours/{n}: forward {rf["of_medians"]:.3f} (per-round median {rf["paired_median"]:.3f}, '
                  f'{rf["paired_min"]:.3f}-{rf["paired_max"]:.3f}), train step {rt["of_medians"]:.3f} (per-round median '
                  f'{rt["paired_median"]:.3f}, {rt["paired_min"]:.3f}-{rt["paired_max"]:.3f})')
        rows.append(f'| {precision} | {n} | {models[n]["params"]:,} | {C.fmt_ms(s["forward"])} | {C.fmt_ms(s["train"])} | '
                    f'{r_f} | {r_t} | {s["forward_peak_mib"]["median"]:.0f} | {s["train_peak_mib"]["median"]:.0f} |')
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    ap.add_argument('--preset', default='cifar10', choices=('cifar10', 'digits', 'mnist'),
                    help="the U-Net preset; inputs get its channels and resolution (digits: 1x16x16, the default run's)")
    ap.add_argument('--batch', type=int, help='batch size (default: 8 on CPU, 128 on CUDA)')
    ap.add_argument('--repeats', type=int, default=7, help='timed rounds after one warm-up round (default 7; fewer if --budget ends)')
    ap.add_argument('--precision', help='comma-separated fp32,bf16 (bf16 = autocast); default fp32 on CPU, both on CUDA')
    ap.add_argument('--channels-last', action=argparse.BooleanOptionalAction, help='default: on for CUDA, off for CPU')
    ap.add_argument('--compile', action='store_true', help='torch.compile every network (the warm-up round compiles)')
    ap.add_argument('--fast-paths', action='store_true',
                    help='time only our U-Net, in all four settings of channels_last and torch.compile (off/on), interleaved')
    C.add_run_args(ap, budget_cpu=240)
    a = ap.parse_args(argv)

    device = C.pick_device(a.device)
    cuda = device.type == 'cuda'
    threads = C.set_threads(device, a.threads)
    batch = a.batch or (128 if cuda else 8)
    precisions = (a.precision or ('fp32,bf16' if cuda else 'fp32')).split(',')
    if set(precisions) - {'fp32', 'bf16'}: ap.error(f'--precision takes fp32 and/or bf16, got {a.precision}')
    channels_last = cuda if a.channels_last is None else a.channels_last
    if a.fast_paths and (a.compile or a.channels_last is not None): ap.error('--fast-paths times every setting of --channels-last and --compile itself')
    setting = 'channels_last and compile as named per row' if a.fast_paths else f'channels_last={channels_last}, compile={a.compile}'

    budget = C.Budget(a.budget or (540 if cuda else 240))
    env = C.environment(device)
    print(f'bench_unet: {a.preset} U-Net, batch {batch}, {precisions}, {setting}, '
          f'threads={threads}; load {env["load_at_start"]} on {env["cores"]} cores\nmemory: {env["memory_method"]}')

    torch.manual_seed(0)
    cfg = unet_preset(a.preset)
    ch, res = cfg.in_channels, cfg.resolution
    models, missing = make_models(cfg, device, channels_last, a.compile, a.fast_paths)
    d = Diffusion(beta_schedule('linear', 1000)).to(device)
    g = torch.Generator().manual_seed(0)
    x0 = (torch.rand(batch, ch, res, res, generator=g) * 2 - 1).to(device)   # (B, C, H, W) in [-1, 1]
    t = torch.randint(0, 1000, (batch,), generator=g).to(device)
    noise = torch.randn(batch, ch, res, res, generator=g).to(device)

    results, rows, loads = {}, [], []
    for prec in precisions:
        amp = ((lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if prec == 'bf16'
               else (lambda: torch.autocast(device.type, enabled=False)))
        loads.append(C.load())
        res = run(models, d, x0, t, noise, device, amp, a.repeats, budget, loads)
        results[prec] = summarize(res)
        rows += report(results[prec], models, prec)
    env['load_during'] = loads
    print(f'\nload (1/5/15 min) before each precision and after each round: {loads}; {budget.elapsed():.0f} s in all')

    if a.json:
        C.write_json(a.json, dict(script='bench_unet', environment=env, batch=batch, preset=a.preset,
                                  channels_last=None if a.fast_paths else channels_last,
                                  compile=None if a.fast_paths else a.compile, fast_paths=a.fast_paths, repeats=a.repeats,
                                  params={n: m['params'] for n, m in models.items()}, missing=missing, results=results))
    if not a.no_readme:
        n_rounds = min(s['forward']['n'] for r in results.values() for s in r.values())
        head = (f'Measured {env["date"]} on {env["cpu"] if not cuda else env.get("gpu")}, torch {env["torch"]}, '
                f'{threads} thread(s), {a.preset} U-Net, batch {batch}, {setting}; '
                f'median [min–max] of {n_rounds} interleaved rounds after a warm-up. Load average (1 min) '
                f'{min(l[0] for l in loads):.1f}–{max(l[0] for l in loads):.1f} on {env["cores"]} cores. '
                + (f'Ratios: plain ÷ that setting of the medians, in brackets the median and range of the per-round (paired) '
                   f'ratios (> 1: the setting is faster). ' if a.fast_paths else
                   f'Ratios: ours ÷ peer of the medians, in brackets the median and range of the per-round (paired) ratios '
                   f'(< 1: ours is faster). ') +
                f'Peak memory: {env["memory_method"]}.')
        if missing: head += ' Not measured: ' + '; '.join(f'{k} ({v})' for k, v in missing.items()) + '.'
        table = ['| precision | model | parameters | forward ms | train step ms | forward ours/peer | train step ours/peer '
                 '| forward peak MiB | train step peak MiB |', '|---|---|--:|--:|--:|--:|--:|--:|--:|'] + rows
        key = (f'bench_unet-{device.type}' + ('-fast-paths' if a.fast_paths else '') + ('' if a.preset == 'cifar10' else f'-{a.preset}')
               + ('-bf16' if not cuda and 'bf16' in precisions else ''))   # CPU bf16 tables beside the fp32 one
        C.update_readme(key, head + '\n\n' + '\n'.join(table))


if __name__ == '__main__':
    main()
