#!/usr/bin/env python
"""Make the front page's hero: a trained run's sample grid, upscaled so a digit is visible, and a denoising GIF.

A 16-pixel digit is a smudge on a web page, so both images are enlarged by whole-pixel (nearest-neighbour)
repetition, which keeps every pixel of the model's output visible as a sharp square instead of blurring it.
The tool writes

- nbs/images/hero_samples.png: N samples (default 64, 8 per row), each pixel a `--scale`x`--scale` block;
- nbs/images/hero_denoising.gif: the first 16 of them, denoised from x_T to x_0 (`--gif_scale`);
- the markdown cell with id `hero` in nbs/index.ipynb (created after the Colab badge if missing): the two
  images side by side and one line saying what they are and the run's numbers (`--numbers`);

then README.md from nbs/index.ipynb (tools/make_readme.py), so the two stay one source.

    PYTHONPATH=$PWD python tools/make_hero.py runs/digits --sampler ddpm \\
        --numbers "2.72 bits/dim; FDD 24.9 (real data 11.7)"
"""
import argparse, json, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT/'nbs'/'images'
HERO_ID = 'hero'


def upscale(img, scale:int):
    "A PIL image enlarged `scale` times by repeating pixels (no interpolation)."
    from PIL import Image
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST)


def frame_indices(F:int, n:int=24)->list:
    "n of the F trajectory frames, sparse where they are noise (the start) and dense where digits form (the end)."
    if F <= n: return list(range(F))
    return sorted({round((1 - (1 - k / (n - 1))**2) * (F - 1)) for k in range(n)})


def hero_images(samples, trajectory, out=IMAGES, scale:int=3, gif_scale:int=3, n_gif:int=16, frame_ms:int=80)->tuple:
    "Write the upscaled grid of `samples` (N, C, H, W) and a GIF of `trajectory` (F, N, C, H, W); returns both paths."
    from ddpm_nb.sample import image_grid
    out = Path(out)
    trajectory = [trajectory[i] for i in frame_indices(len(trajectory))]   # noise frames do not compress: few of them
    out.mkdir(parents=True, exist_ok=True)
    grid = out/'hero_samples.png'
    upscale(image_grid(samples, nrow=8), scale).save(grid, optimize=True)
    frames = [upscale(image_grid(f[:n_gif], nrow=4), gif_scale) for f in trajectory]
    gif = out/'hero_denoising.gif'
    durations = [frame_ms] * (len(frames) - 1) + [1500]        # hold the final samples
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=True)
    return grid, gif


def hero_markdown(caption:str)->str:
    "The index cell: both images on one line (GitHub shows them side by side), then the caption."
    return ('![Samples of a trained model, each pixel enlarged](images/hero_samples.png) '
            '![The same model denoising 16 samples from pure noise](images/hero_denoising.gif)\n\n' + caption)


def set_hero_cell(source:str, index=ROOT/'nbs'/'index.ipynb'):
    "Put `source` into index.ipynb's `hero` markdown cell (made right after the Colab badge if missing)."
    from execnb.nbio import read_nb, write_nb
    nb = read_nb(index)
    cells = nb['cells']
    hero = [c for c in cells if c.get('id') == HERO_ID]
    if hero: hero[0]['source'] = source
    else:
        at = next((i + 1 for i, c in enumerate(cells) if c.get('id') == 'colab-install'), 1)
        cells.insert(at, dict(cell_type='markdown', id=HERO_ID, metadata={}, source=source))
    write_nb(nb, index)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('run', type=Path, help='a run directory written by ddpm_train')
    ap.add_argument('--sampler', default='ddpm', help='ddpm (Algorithm 2, all T steps) or ddim, or a flow method')
    ap.add_argument('--steps', type=int, default=None, help='sampler steps (default: all T for ddpm)')
    ap.add_argument('--n', type=int, default=64, help='samples in the grid')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--scale', type=int, default=3, help='pixels per model pixel in the grid')
    ap.add_argument('--gif_scale', type=int, default=3, help='pixels per model pixel in the GIF')
    ap.add_argument('--numbers', default='', help='the one line of measured numbers for the caption')
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from ddpm_nb.checkpoint import load_run
    from ddpm_nb.sample import sample
    from ddpm_nb.unet import image_hw
    try: model, d, cfg = load_run(a.run)
    except Exception as e: sys.exit(f'{a.run}: cannot load the run ({e}); train one with ddpm_train --out {a.run}')
    shape = (a.n, model.cfg.in_channels, *image_hw(model.cfg.resolution))   # (N, C, H, W)
    start = time.time()
    x0, traj = sample(model, d, shape, a.sampler, a.steps, seed=a.seed, return_trajectory=True,
                      trajectory_every=max(1, (a.steps or d.T) // 100))
    secs = time.time() - start
    grid, gif = hero_images(x0, traj, scale=a.scale, gif_scale=a.gif_scale)
    steps = a.steps or d.T
    what = 'Algorithm 2' if a.sampler == 'ddpm' else a.sampler
    caption = (f'*{a.n} samples of the default `ddpm_train` run ({what}, {steps} steps, seed {a.seed}; '
               f'each model pixel drawn as a {a.scale}×{a.scale} block), and 16 of them being denoised.*'
               + (f' **{a.numbers}**' if a.numbers else ''))
    set_hero_cell(hero_markdown(caption))
    sys.path.insert(0, str(ROOT/'tools'))
    from make_readme import render
    (ROOT/'README.md').write_text(render(), encoding='utf-8')
    print(json.dumps(dict(grid=str(grid.relative_to(ROOT)), gif=str(gif.relative_to(ROOT)), sample_seconds=round(secs),
                          grid_kb=grid.stat().st_size // 1024, gif_kb=gif.stat().st_size // 1024)))


if __name__ == '__main__':
    main()
