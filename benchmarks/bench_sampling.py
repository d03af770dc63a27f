#!/usr/bin/env python
"""The cost of the sampling loop itself: `ddpm_nb.sample.sample` against the same number of bare network calls.

For the ancestral sampler (all T steps), DDIM (50 steps) and the fast solvers of nbs/25_fast_samplers.ipynb
(DPM-Solver++(2M), its SDE variant and Heun, 20 steps; Heun calls the network 2S-1 times) it prints the ratio

    wall time of sample(...)  /  wall time of S forward passes of the same batch        (S = steps visited)

which is 1 for a loop that costs nothing besides the network; ddpm_nb's target is <= 1.03. Two less noisy estimates
of the same overhead come with it: the wall time of the loop over the time spent inside the network during that
very loop (forward hooks; CPU only), and the loop driven by a stub network that returns a cached tensor (the
sampler's own work, per step). diffusers' DDPMPipeline and DDIMPipeline on the same weights (converted with
`ddpm_nb.interop.to_diffusers`) are timed the same way, and for the DPM-Solver++ pair the DDPMPipeline loop with
diffusers' DPMSolverMultistepScheduler (algorithm_type dpmsolver++ / sde-dpmsolver++; diffusers' Heun scheduler
expects EDM-scaled inputs, which DDPMPipeline does not give it, so Heun has no diffusers column). If the overhead exceeds 3%, a cProfile of the stub loop
shows where it goes. See benchmarks/README.md.

    python benchmarks/bench_sampling.py                  # CPU: the small "digits" network, batch 4
    python benchmarks/bench_sampling.py --device cuda    # GPU: the CIFAR-10 network, batch 128
"""
import argparse, collections, cProfile, io, pstats, statistics, tempfile, time, warnings

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import _common as C
from ddpm_nb.diffusion import Diffusion
from ddpm_nb.sample import sample, timesteps
from ddpm_nb.solvers import DEFAULT_SPACING, solver_nfe, solver_timesteps
from ddpm_nb.schedule import beta_schedule
from ddpm_nb.unet import UNet, count_params, unet_preset

TARGET = 1.03


class InNet:
    "Forward hooks that add up the wall time spent inside a module (meaningful on CPU, where calls are synchronous)."
    def __init__(self, module):
        self.total, self.calls, self._t0 = 0.0, 0, None
        module.register_forward_pre_hook(self._pre); module.register_forward_hook(self._post)
    def _pre(self, m, args): self._t0 = time.perf_counter()
    def _post(self, m, args, out): self.total += time.perf_counter() - self._t0; self.calls += 1
    def reset(self): self.total, self.calls = 0.0, 0


class OpCount(TorchDispatchMode):
    "Count the ATen operators that run (each a kernel launch on a GPU; `is_nonzero`/`item` also a host-device sync)."
    def __init__(self): super().__init__(); self.n = collections.Counter()
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.n[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))

SYNCS = ('is_nonzero', 'item', '_local_scalar_dense', 'equal', 'nonzero')


def forward_block(call, x, ts:list):
    "S bare forward passes of batch x, one per visited step (the t tensors are built beforehand)."
    with torch.inference_mode():
        for t in ts: call(x, t)


def random_net(cfg, device)->UNet:
    "Our U-Net with its zero-initialised output layers given small random weights, so that it computes something."
    torch.manual_seed(0)
    m = UNet(cfg)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.abs().sum() == 0 and p.ndim > 1: p.normal_(0, 0.02)
    return m.to(device).eval()


def diffusers_pipes(model, d, device, tmp):
    "DDPM and DDIM pipelines of diffusers on our weights, or (None, reason)."
    try:
        import diffusers
        from diffusers import DDIMPipeline, DDIMScheduler, DDPMPipeline, DPMSolverMultistepScheduler
        from ddpm_nb.interop import to_diffusers
    except ImportError as e: return None, f'{type(e).__name__}: {e}'
    diffusers.utils.logging.set_verbosity_error(); diffusers.utils.logging.disable_progress_bar()
    path = to_diffusers((model, d), tmp + '/pipe')
    ddpm = DDPMPipeline.from_pretrained(path).to(device)
    # DDIM with the same schedule; "trailing" spacing visits T-1 first, like our "uniform" (the step count is what matters)
    ddim = DDIMPipeline(unet=ddpm.unet, scheduler=DDIMScheduler.from_config(ddpm.scheduler.config, timestep_spacing='trailing'))
    # DPM-Solver++(2M) and its SDE variant: diffusers' own scheduler with its defaults, in the same pipeline loop
    dpm = {k: DDPMPipeline(unet=ddpm.unet, scheduler=DPMSolverMultistepScheduler.from_config(ddpm.scheduler.config, algorithm_type=a))
           for k, a in (('dpmpp_2m', 'dpmsolver++'), ('dpmpp_2m_sde', 'sde-dpmsolver++'))}
    for p in (ddpm, ddim, *dpm.values()): p.set_progress_bar_config(disable=True)
    return dict(ddpm=ddpm, ddim=ddim, **dpm), None


def measure(cases:dict, rounds:int, device, budget:C.Budget, min_rounds:int=1)->dict:
    "Run every case once per round (order rotated), `rounds` rounds or fewer if the budget ends; wall and in-net times."
    names, out = list(cases), {k: dict(wall=[], in_net=[]) for k in cases}
    round_s = 0.0
    for r in range(rounds):
        if r >= min_rounds and not budget.fits(round_s):
            print(f'  time budget reached after {r} of {rounds} rounds'); break
        t_round = time.perf_counter()
        for n in names[r % len(names):] + names[:r % len(names)]:
            fn, hook = cases[n]
            if hook: hook.reset()
            with C.Measure(device) as m: fn(r)
            out[n]['wall'].append(m.seconds)
            if hook and device.type == 'cpu': out[n]['in_net'].append(hook.total)
        round_s = time.perf_counter() - t_round
        print(f'  round {r + 1}: {round_s:.1f} s, load {C.load()[0]}', flush=True)
    return out


def profile_stub(d, shape, stub, device, sampler, steps)->tuple:
    "cProfile of the loop with a stub network: the top functions by own time, and the share of `_check_t`."
    pr = cProfile.Profile()
    pr.enable(); sample(stub, d, shape, sampler, steps, seed=0, device=device); pr.disable()
    st = pstats.Stats(pr)
    total = sum(v[2] for v in st.stats.values())                          # own time of everything
    check = sum(v[3] for k, v in st.stats.items() if k[2] == '_check_t')   # cumulative time in _check_t
    ncheck = sum(v[1] for k, v in st.stats.items() if k[2] == '_check_t')
    s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats('tottime').print_stats(12)
    lines = [l for l in s.getvalue().splitlines() if l.strip()][-13:]
    with OpCount() as oc: sample(stub, d, shape, sampler, steps, seed=0, device=device)
    S = solver_nfe(sampler, steps) if steps else d.T
    return dict(total_s=total, check_t_s=check, check_t_calls=ncheck, top='\n'.join(lines),
                ops_per_step=sum(oc.n.values()) / S, syncs_per_step=sum(oc.n[k] for k in SYNCS) / S,
                ops=dict(oc.n.most_common()))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    ap.add_argument('--preset', help='U-Net preset (default: digits on CPU, cifar10 on CUDA)')
    ap.add_argument('--batch', type=int, help='samples per chain batch (default: 4 on CPU, 128 on CUDA)')
    ap.add_argument('--T', type=int, default=1000, help='diffusion steps (default 1000)')
    ap.add_argument('--ddim-steps', type=int, default=50, help='steps of the DDIM run (default 50)')
    ap.add_argument('--solver-steps', type=int, default=20, help='steps of the fast solvers (default 20)')
    ap.add_argument('--samplers', default='ddim,dpmpp_2m,dpmpp_2m_sde,heun,ddpm', help='which samplers, comma-separated')
    ap.add_argument('--repeats', type=int, default=2, help='rounds of the T-step runs (DDIM gets 3x as many; default 2)')
    C.add_run_args(ap, budget_cpu=230)
    ap.add_argument('--no-diffusers', action='store_true', help="skip diffusers' pipelines")
    ap.add_argument('--profile', action='store_true', help='print the profile of the loop even when the overhead is small')
    a = ap.parse_args(argv)

    device = C.pick_device(a.device)
    cuda = device.type == 'cuda'
    threads = C.set_threads(device, a.threads)
    preset, B = a.preset or ('cifar10' if cuda else 'digits'), a.batch or (128 if cuda else 4)
    budget = C.Budget(a.budget or (540 if cuda else 230))
    env = C.environment(device)
    cfg = unet_preset(preset)
    shape = (B, cfg.in_channels, cfg.resolution, cfg.resolution)
    model = random_net(cfg, device)
    hook = InNet(model)
    d = Diffusion(beta_schedule('linear', a.T))
    print(f'bench_sampling: preset {preset} ({count_params(model):,} parameters), batch {B}, shape {shape}, T={a.T}, '
          f'threads={threads}; load {env["load_at_start"]} on {env["cores"]} cores')

    x = torch.randn(shape, device=device)
    mk = lambda ts: [torch.full((B,), int(i), dtype=torch.long, device=device) for i in ts]
    t_ddpm, t_ddim = mk(timesteps(a.T, a.T)), mk(timesteps(a.T, a.ddim_steps))
    def solver_calls(s):
        "The steps at which a solver calls the network, in order (Heun: each node, and the next one for its second slope)."
        ts = solver_timesteps(d, a.solver_steps, DEFAULT_SPACING[s])
        return [t for k, t in enumerate(ts) for t in ((t, ts[k + 1]) if s == 'heun' and k + 1 < len(ts) else (t,))]
    runs = dict(ddim=(a.ddim_steps, t_ddim), ddpm=(a.T, t_ddpm),
                **{s: (a.solver_steps, mk(solver_calls(s))) for s in ('dpmpp_2m', 'dpmpp_2m_sde', 'heun')})
    runs = {s: runs[s] for s in a.samplers.split(',')}
    with torch.inference_mode(): cached = model(x, t_ddpm[0]).clone()
    stub = lambda x_t, t: cached                       # a network that costs nothing: what is left is the loop

    pipes, why_not = (None, '--no-diffusers') if a.no_diffusers else diffusers_pipes(model, d, device, tempfile.mkdtemp())
    if why_not: print(f"diffusers' pipelines not timed: {why_not}")
    ph = InNet(pipes['ddpm'].unet) if pipes else None
    dcall = (lambda x_t, t: pipes['ddpm'].unet(x_t, t).sample) if pipes else None

    print('warm-up')
    forward_block(model, x, t_ddim)
    sample(model, d, shape, 'ddim', a.ddim_steps, seed=0)
    if pipes: forward_block(dcall, x, [t[0] for t in t_ddim]); pipes['ddim'](batch_size=B, num_inference_steps=a.ddim_steps)

    res = {}
    for sampler, (steps, ts) in runs.items():
        S = len(ts)                                    # network calls: steps, or 2 steps - 1 for Heun
        print(f'{sampler}: {S} steps')
        cases = {'sample': ((lambda r, s=sampler, k=steps: sample(model, d, shape, s, k, seed=r)), hook),
                 'forwards': ((lambda r, ts=ts: forward_block(model, x, ts)), hook),
                 'stub loop': ((lambda r, s=sampler, k=steps: sample(stub, d, shape, s, k, seed=r, device=device)), None)}
        if pipes and sampler in pipes:
            cases['diffusers pipeline'] = ((lambda r, p=pipes[sampler], S=S: p(
                batch_size=B, generator=torch.Generator(device).manual_seed(r), num_inference_steps=S, output_type='pt')), ph)
        rounds = a.repeats * (1 if sampler == 'ddpm' else 3)
        m = measure(cases, rounds, device, budget)
        w = {k: statistics.median(v['wall']) for k, v in m.items()}
        r = dict(steps=S, raw=m, wall={k: C.stats(v['wall']) for k, v in m.items()},
                 ratio_direct=w['sample'] / w['forwards'],
                 ratio_stub=1 + w['stub loop'] / w['forwards'],
                 loop_us_per_step=w['stub loop'] / S * 1e6, forward_ms=w['forwards'] / S * 1e3)
        if m['sample']['in_net']:
            r['ratio_in_loop'] = statistics.median(a_ / b_ for a_, b_ in zip(m['sample']['wall'], m['sample']['in_net']))
            # the same ratio for the bare forward loop: the zero point of this method (hooks, Python call overhead)
            r['forwards_in_loop'] = statistics.median(a_ / b_ for a_, b_ in zip(m['forwards']['wall'], m['forwards']['in_net']))
        if 'diffusers pipeline' in w:
            r['pipeline_vs_sample'] = w['diffusers pipeline'] / w['sample']
            if m['diffusers pipeline']['in_net']:
                r['pipeline_in_loop'] = statistics.median(
                    a_ / b_ for a_, b_ in zip(m['diffusers pipeline']['wall'], m['diffusers pipeline']['in_net']))
        res[sampler] = r
        print(f'  per step: forward {r["forward_ms"]:.2f} ms, sampler work (stub) {r["loop_us_per_step"]:.0f} µs')
        print(f'  sample / {S} forwards = {r["ratio_direct"]:.4f} (direct: separate runs, swings with the load); '
              + (f'{r["ratio_in_loop"]:.4f} (in-loop, wall / time inside the network; {r["forwards_in_loop"]:.4f} for the '
                 'bare forward loop); ' if 'ratio_in_loop' in r else '')
              + f'{r["ratio_stub"]:.4f} (1 + stub loop / forwards)')
        if 'pipeline_vs_sample' in r:
            print(f'  diffusers pipeline / our sample = {r["pipeline_vs_sample"]:.3f}'
                  + (f'; pipeline wall / time inside its network = {r["pipeline_in_loop"]:.4f}' if 'pipeline_in_loop' in r else ''))
        worst = max(r['ratio_direct'], r.get('ratio_in_loop', 0), r['ratio_stub'])
        if worst > TARGET or a.profile:
            p = profile_stub(d, shape, stub, device, sampler, steps)
            r['profile'] = p
            print(f'  {"OVER" if worst > TARGET else "within"} the {TARGET - 1:.0%} target: profile of the stub loop '
                  f'({p["total_s"] * 1e3:.0f} ms under cProfile; _check_t: {p["check_t_calls"] // S} calls per step, '
                  f'{p["check_t_s"] / p["total_s"]:.0%} of the loop)\n{p["top"]}')
            print(f'  ATen operators per step: {p["ops_per_step"]:.0f}, of which host-device syncs (is_nonzero/item): '
                  f'{p["syncs_per_step"]:.0f}; most frequent: '
                  + ', '.join(f'{k} {v / S:.0f}' for k, v in list(p['ops'].items())[:10]))
    env['load_at_end'] = C.load()
    print(f'\nload at start {env["load_at_start"]}, at end {env["load_at_end"]}; {budget.elapsed():.0f} s in all')

    if a.json:
        C.write_json(a.json, dict(script='bench_sampling', environment=env, preset=preset, batch=B, T=a.T,
                                  diffusers=why_not or 'timed', results=res))
    if not a.no_readme:
        rows = ['| sampler | network calls S | forward ms/step | sampler work µs/step (stub) | sample ÷ S forwards (direct) '
                '| wall ÷ time in network (in-loop) | 1 + stub ÷ forwards | diffusers pipeline ÷ our sample | pipeline wall ÷ time in its network |',
                '|---|--:|--:|--:|--:|--:|--:|--:|--:|']
        f = lambda r, k, p='.3f': format(r[k], p) if k in r else '—'
        for s, r in res.items():
            rows.append(f'| {s} | {r["steps"]} | {r["forward_ms"]:.2f} | {r["loop_us_per_step"]:.0f} | {r["ratio_direct"]:.3f} | '
                        f'**{f(r, "ratio_in_loop")}** | {f(r, "ratio_stub")} | {f(r, "pipeline_vs_sample")} | {f(r, "pipeline_in_loop")} |')
        head = (f'Measured {env["date"]} on {env["cpu"] if not cuda else env.get("gpu")}, torch {env["torch"]}, '
                f'{threads} thread(s); preset `{preset}` ({count_params(model):,} parameters), batch {B}, T={a.T}; medians of '
                + ', '.join(f'{r["wall"]["sample"]["n"]} round{"s" * (r["wall"]["sample"]["n"] != 1)} ({s})' for s, r in res.items())
                + (f'; in-loop ratio of the bare forward loop (the zero point): '
                   + ', '.join(f'{r["forwards_in_loop"]:.3f} ({s})' for s, r in res.items() if 'forwards_in_loop' in r)
                   if any('forwards_in_loop' in r for r in res.values()) else '')
                + f'. Load average (1 min) '
                f'{env["load_at_start"][0]:.1f} at the start, {env["load_at_end"][0]:.1f} at the end, on {env["cores"]} cores. '
                f'Target: ≤ {TARGET}. The direct ratio and diffusers ÷ ours compare separate runs and swing with the load; '
                f'the in-loop ratio (bold) compares times from the same run.')
        if why_not: head += f" diffusers' pipelines not timed ({why_not})."
        C.update_readme(f'bench_sampling-{device.type}', head + '\n\n' + '\n'.join(rows))


if __name__ == '__main__':
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)
        main()
