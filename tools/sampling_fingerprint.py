#!/usr/bin/env python
"""Record every sampling path's output at fixed seeds, and check a later tree reproduces it bit for bit.

A refactor of the sampling side must not change one draw. Run `--save` before the change and
`--check` after, on the same machine (floating-point kernels differ between CPUs, so the file is not
committed): each entry is compared with `torch.equal`, and a mismatch prints its largest difference.

    python tools/sampling_fingerprint.py --save /tmp/before.pt
    python tools/sampling_fingerprint.py --check /tmp/before.pt

The networks are seeded, untrained digits-preset U-Nets (unconditional, learned-variance,
class-conditional): the chains' arithmetic and random draws are what is compared, not sample quality.
"""
import argparse, sys

import torch

from ddpm_nb.diffusion import Diffusion
from ddpm_nb.schedule import beta_schedule
from ddpm_nb.unet import UNet, unet_preset
from ddpm_nb.sample import sample
from ddpm_nb.inpaint import repaint, sdedit
from ddpm_nb.flow import FlowMatching, flow_sample
from ddpm_nb.score import pf_ode_sample
from ddpm_nb.ddim import ddim_invert
from ddpm_nb.config import recipe
from ddpm_nb.objective import sample_run


def _net(seed, **over):
    torch.manual_seed(seed)
    return UNet(unet_preset('digits', in_channels=1, resolution=16, **over)).eval()


def fingerprints() -> dict:
    "Name -> output tensor of every sampling path, at fixed seeds."
    torch.set_num_threads(1)
    d = Diffusion(beta_schedule('linear', 1000))
    net, learned = _net(0), _net(1, out_channels=2)
    cond = _net(2, num_classes=10)
    shape, out = (5, 1, 16, 16), {}
    for sampler, kw in [('ddpm', {}), ('ddim', dict(steps=50)), ('ddim', dict(steps=30, eta=1.0)),
                        ('ddim', dict(steps=20, eta=0.5, spacing='quadratic')),
                        ('ddim', dict(steps=25, spacing='leading', pred='x0')),
                        ('dpmpp_2m', {}), ('dpmpp_2m_sde', {}), ('heun', dict(steps=10)),
                        ('dpmpp_2m', dict(steps=12, spacing='karras')),
                        ('dpmpp_2m_sde', dict(steps=15, spacing='linspace', pred='v')),
                        ('heun', dict(steps=8, spacing='uniform', clip=False))]:
        name = f'sample/{sampler}/' + ','.join(f'{k}={v}' for k, v in sorted(kw.items()))
        out[name] = sample(net, d, shape, sampler=sampler, seed=3, batch_size=2, **kw)
    out['sample/ddpm/fixedlarge'] = sample(net, d, shape, var='fixedlarge', seed=4)
    out['sample/ddpm/learned_range'] = sample(learned, d, shape, var='learned_range', seed=4, batch_size=3)
    x0, traj = sample(net, d, shape, sampler='ddim', steps=40, eta=1.0, seed=5, return_trajectory=True,
                      trajectory_every=7, batch_size=3)
    out['traj/ddim/x0'], out['traj/ddim/frames'] = x0, traj
    x0, traj = sample(net, d, shape, sampler='dpmpp_2m_sde', seed=5, return_trajectory=True)
    out['traj/sde/x0'], out['traj/sde/frames'] = x0, traj
    x0, traj = sample(net, d, shape, sampler='heun', steps=6, seed=5, return_trajectory=True, batch_size=4)
    out['traj/heun/x0'], out['traj/heun/frames'] = x0, traj
    x_T = torch.randn(shape, generator=torch.Generator().manual_seed(9))
    out['sample/x_T/ddim'] = sample(net, d, sampler='ddim', steps=10, x_T=x_T)
    for sampler, steps in [('ddim', 20), ('dpmpp_2m_sde', 20), ('ddpm', None)]:
        out[f'guided/{sampler}'] = sample(cond, d, shape, sampler=sampler, steps=steps, seed=6,
                                          labels=[3, 1, 4, 1, 5], guidance=3.0, batch_size=2)
    out['guided/cond-only'] = sample(cond, d, shape, sampler='ddim', steps=10, seed=6, labels=7)
    images = sample(net, d, shape, sampler='ddim', steps=10, seed=7)
    mask = torch.zeros(5, 1, 16, 16)
    mask[:, :, :8] = 1
    for sampler, kw in [('ddpm', {}), ('ddim', dict(steps=20, eta=1.0)), ('ddim', dict(steps=12))]:
        out[f'repaint/{sampler}/{kw}'] = repaint(net, d, images, mask, resample=3, jump=4, sampler=sampler,
                                                  seed=8, batch_size=2, **kw)
    for s in (0.0, 0.3, 0.5, 1.0):
        out[f'sdedit/ddim/{s}'] = sdedit(net, d, images, s, sampler='ddim', steps=20, eta=1.0, seed=8,
                                         batch_size=3)
    out['sdedit/ddpm/0.25'] = sdedit(net, d, images, 0.25, seed=8)
    fm = FlowMatching(1000)
    for method in ('euler', 'heun'):
        out[f'flow/{method}'] = flow_sample(net, fm, shape, steps=10, sampler=method, seed=10, batch_size=2)
    x0, traj = flow_sample(net, fm, shape, steps=5, seed=10, return_trajectory=True, clip=False)
    out['flow/traj/x0'], out['flow/traj/frames'] = x0, traj
    for solver in ('heun', 'euler'):
        out[f'pf_ode/{solver}'] = pf_ode_sample(net, d, shape, steps=15, solver=solver, seed=11)
    out['ddim_invert'] = ddim_invert(net, d, images, steps=20)
    out['ddim_invert/fixed_point'] = ddim_invert(net, d, images, steps=10, fixed_point_iters=2)
    cfg = recipe('digits', cond='class')
    out['sample_run/guided'] = sample_run(cond, d, cfg, shape, sampler='dpmpp_2m_sde', seed=12, labels=[0, 1, 2, 3, 4],
                                          guidance=2.0, batch_size=2)
    flow_cfg = recipe('digits', objective='flow', cond='class')
    out['sample_run/flow/guided'] = sample_run(cond, fm, flow_cfg, shape, sampler='heun', seed=12, labels=2,
                                               guidance=2.0)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument('--save', help='write the fingerprints to this .pt file')
    g.add_argument('--check', help='compare with the fingerprints in this .pt file')
    a = p.parse_args()
    now = fingerprints()
    if a.save:
        torch.save(now, a.save)
        print(f'{len(now)} fingerprints -> {a.save}')
        return
    ref, bad = torch.load(a.check), 0
    for name in sorted(set(ref) | set(now)):
        if name not in ref or name not in now:
            print(f'{name}: only in {"the reference" if name in ref else "this tree"}')
            bad += 1
        elif not torch.equal(ref[name], now[name]):
            diff = (ref[name].double() - now[name].double()).abs().max().item() if ref[name].shape == now[name].shape else None
            print(f'{name}: differs (max |diff| {diff})')
            bad += 1
    print(f'{len(ref) - bad} of {len(ref)} bit for bit' + ('' if bad else ': all identical'))
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
