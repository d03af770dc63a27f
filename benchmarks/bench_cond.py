#!/usr/bin/env python
"""Cost of class conditioning: one training step (forward, backward, Adam) of the digits U-Net at batch 128, with and
without the class embedding (and label dropout), interleaved in one process; and one guided sampling step (the batched
cond + uncond forward of ClassifierFreeGuidance) against one plain forward. Prints the ratios.

    OMP_NUM_THREADS=1 python benchmarks/bench_cond.py [--reps 10]
"""
import argparse, time
import torch
from ddpm_nb.unet import UNet, unet_preset
from ddpm_nb.diffusion import Diffusion
from ddpm_nb.schedule import beta_schedule
from ddpm_nb.sample import ClassifierFreeGuidance


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--reps', type=int, default=10)
    a = p.parse_args()
    torch.manual_seed(0)
    d = Diffusion(beta_schedule('linear', 1000))
    nets = {'unconditional': UNet(unet_preset('digits')), 'class-conditional': UNet(unet_preset('digits', num_classes=10))}
    opts = {k: torch.optim.Adam(m.parameters(), lr=2e-4) for k, m in nets.items()}
    x0 = torch.rand(128, 1, 16, 16) * 2 - 1
    y = torch.randint(0, 10, (128,))
    times = {k: [] for k in nets}
    for r in range(a.reps + 1):                      # interleaved, so that load changes hit both alike; rep 0 warms up
        for k, m in nets.items():
            t0 = time.perf_counter()
            if k == 'unconditional':
                loss = d.loss(m, x0)
            else:
                yd = torch.where(torch.rand(128) < 0.1, 10, y)              # label dropout to the null label
                loss = d.loss(lambda x, t: m(x, t, yd), x0)
            loss.backward()
            opts[k].step()
            opts[k].zero_grad(set_to_none=True)
            if r:
                times[k].append(time.perf_counter() - t0)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    print(f"train step, batch 128: unconditional {med['unconditional'] * 1e3:.0f} ms, class-conditional "
          f"{med['class-conditional'] * 1e3:.0f} ms; ratio {med['class-conditional'] / med['unconditional']:.3f}")
    m = nets['class-conditional'].eval()
    x, t = torch.randn(128, 1, 16, 16), torch.full((128,), 500)
    g = ClassifierFreeGuidance(m, y, 3.0)
    ft = {'plain': [], 'guided': []}
    with torch.inference_mode():
        for r in range(a.reps + 1):
            for k, f in (('plain', lambda: m(x, t, y)), ('guided', lambda: g(x, t))):
                t0 = time.perf_counter()
                f()
                if r:
                    ft[k].append(time.perf_counter() - t0)
    med = {k: sorted(v)[len(v) // 2] for k, v in ft.items()}
    print(f"sampling step, batch 128: conditional forward {med['plain'] * 1e3:.0f} ms, guided (s=3, one batched forward) "
          f"{med['guided'] * 1e3:.0f} ms; ratio {med['guided'] / med['plain']:.2f}")


if __name__ == '__main__':
    main()
