"""Time to quality of the digits recipe: train a few variants of the default run, score each by the strict judge.

    python benchmarks/time_to_quality.py                    # the first sweep: every variant in VARIANTS, two at a time
    python benchmarks/time_to_quality.py --only default bf16 --jobs 1
    python benchmarks/time_to_quality.py --sweep around     # the second sweep, around today's default (AROUND)
    python benchmarks/time_to_quality.py --sweep fp32       # the third: fp32, equal training time (FP32)

Two sweeps, each in its own results file so that its training times compare within it. The first (VARIANTS) chose
today's recipe; its names are relative to the recipe of its time (fp32, L_simple, lr 2e-3), and every row stores the
full config it ran. The second (AROUND) varies today's default along the axes the first left out: batch size at the
same number of images seen, the learning-rate warm-up, and a larger learning rate. The third (FP32) runs in fp32,
the path of CPUs without native bf16, and changes what the first two left alone: the learning rate's decay to the
end of the run (09_train eq. 1b), the EMA's ramp (eq. 3), and the network's width at the same training time (a
wider network takes fewer steps, in the ratio of its measured step time); it also scores the samples of today's
default sampler (DPM-Solver++(2M) SDE, 20 steps) and runs some variants with several training seeds.

Each variant is `ddpm_train` (the digits recipe with a few fields changed; `cpu_bf16` is this machine's default
unless a variant sets it, and each row records which precision it ran in) in a subprocess with one thread, so that
two variants run side by side on a 2-core machine without disturbing each other's timing; then `ddpm_eval --quality`
draws 500 samples with DPM-Solver++(2M), 20 steps (pinned: the default sampler when the stored results were
measured; 25_fast_samplers has since made its SDE variant the default) and scores them: FDD (package classifier),
the judge's mean confidence, its "confident" share (p >= 0.9) and improved precision/recall, each with the real-data
floor. Results go to nbs/results/time_to_quality_digits.json, which 31_tutorial_digits renders. Wall times are of
one thread; the load is recorded with them.
"""
import argparse, json, os, re, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ddpm_nb.experiments import train_summary
from ddpm_nb.config import config_argv, config_from_dict
from ddpm_nb.objective import run_sampler

HERE = Path(__file__).resolve().parent
OUT = HERE.parent/'nbs'/'results'/'time_to_quality_digits.json'
OUT_AROUND = HERE.parent/'nbs'/'results'/'time_to_quality_around_digits.json'

VARIANTS = {                                   # name: TrainConfig fields changed from the digits recipe
    'default': {},
    'bf16': dict(cpu_bf16=True),
    'bf16, 1100 steps': dict(cpu_bf16=True, steps=1100),
    'half the steps (450)': dict(steps=450),
    'twice the steps (1800)': dict(steps=1800),
    'lr 1e-3': dict(lr=1e-3),
    'lr 4e-3': dict(lr=4e-3),
    'EMA 0.999': dict(ema_decay=0.999),
    'EMA 0.99': dict(ema_decay=0.99),
    'batch 64, 1800 steps': dict(batch_size=64, steps=1800),
    'min-SNR-5': dict(loss='min_snr'),
    'min-SNR-5, lr 4e-3': dict(loss='min_snr', lr=4e-3),
}

AROUND = {                                     # name: TrainConfig fields changed from today's default
    'default': {},
    'batch 64, 1800 steps': dict(batch_size=64, steps=1800),
    'batch 256, 450 steps': dict(batch_size=256, steps=450),
    'warm-up 20': dict(warmup=20),
    'warm-up 300': dict(warmup=300),
    'lr 8e-3': dict(lr=8e-3),
}
OUT_FP32 = HERE.parent/'nbs'/'results'/'time_to_quality_fp32_digits.json'
# fp32 step time of width 8 / 24 relative to 16 (one thread, the default batch): 0.60 / 1.83 on the machine that
# ran the sweep, so equal time is 900 / 0.60 = 1500 and 900 / 1.83 = 490 steps
FP32 = {                                       # name: TrainConfig fields changed from today's default, in fp32
    'default': {},
    'cosine decay': dict(lr_decay='cosine'),
    'linear decay': dict(lr_decay='linear'),
    'cosine, lr 8e-3': dict(lr_decay='cosine', lr=8e-3),
    'EMA ramp 4': dict(ema_ramp=4.0),
    'width 24, 490 steps': dict(width=24, steps=490),
    'width 8, 1500 steps': dict(width=8, steps=1500),
    'cosine schedule': dict(schedule='cosine'),
    'v-prediction': dict(pred='v'),
    'batch 64, 1800 steps': dict(batch_size=64, steps=1800),
    'linear, lr 8e-3': dict(lr_decay='linear', lr=8e-3),
    'linear, lr 8e-3, width 8, 1500 steps': dict(lr_decay='linear', lr=8e-3, width=8, steps=1500),
    'EDM objective': dict(objective='edm'),
    'linear decay, 1800 steps': dict(lr_decay='linear', steps=1800),
    'cosine schedule, linear decay': dict(schedule='cosine', lr_decay='linear'),
    'cosine schedule, linear, lr 8e-3': dict(schedule='cosine', lr_decay='linear', lr=8e-3),
    'default, seed 1': dict(seed=1),
    'default, seed 2': dict(seed=2),
}
FP32 = {k: dict(cpu_bf16=False, **v) for k, v in FP32.items()}
SWEEPS = dict(recipe=(VARIANTS, OUT), around=(AROUND, OUT_AROUND), fp32=(FP32, OUT_FP32))
DEFAULT_SAMPLER = 'dpmpp_2m_sde'           # the package's default sampler, scored too by the fp32 sweep
SAMPLER, STEPS = 'dpmpp_2m', 20            # the fixed instrument of both sweeps (see the docstring)


def run(cmd:list, env:dict)->tuple:
    "(exit status, stdout, stderr, seconds) of one command."
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return p.returncode, p.stdout, p.stderr, time.time() - t0


def score(out:Path, sampler:str|None, n:int, env:dict, name:str)->tuple:
    """The quality report of `n` samples of run `out` by `sampler` at STEPS steps (None: the run's objective's
    default sampler and steps), and the seconds it took."""
    how = ['--sampler', sampler, '--steps', str(STEPS)] if sampler else []
    rc, so, se, eval_s = run(['ddpm_eval', str(out), '--quality', '--n-samples', str(n), *how,
                              '--out', str(out/f'quality_{sampler}.json'), '--quiet'], env)
    if rc: raise SystemExit(f'{name}: ddpm_eval failed ({rc}):\n{se[-2000:]}')
    return json.loads((out/f'quality_{sampler}.json').read_text())['quality'], eval_s


def variant(name:str, over:dict, root:Path, n:int, both:bool=False)->dict:
    "Train one variant and score its samples; the row of the results table."
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}
    out = root/re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')
    flags = config_argv(over)
    load0 = os.getloadavg()[0]
    rc, so, se, train_s = run(['ddpm_train', *flags, '--out', str(out), '--quiet'], env)
    if rc: raise SystemExit(f'{name}: ddpm_train failed ({rc}):\n{se[-2000:]}')
    ck = next((l for l in so.splitlines() if l.startswith('checkpoints:')), '')
    ddpm = over.get('objective', 'ddpm') == 'ddpm'         # other objectives: their own default sampler, twice
    q, eval_s = score(out, SAMPLER if ddpm else None, n, env, name)
    s, r = q['samples'], q['real']
    row = dict(variant=name, changed=over, train_s=round(train_s, 1), eval_s=round(eval_s, 1), checkpoints=ck,
               load=[round(load0, 2), round(os.getloadavg()[0], 2)],
               fdd=s['fdd'], confidence=s['judge']['confidence'], confident=s['judge']['confident'],
               precision=s['judge']['precision'], recall=s['judge']['recall'],
               final_loss=train_summary(out)['final_loss'],
               config=json.loads((out/'config.json').read_text())['train'])   # cpu_bf16: the machine's default unless set
    if both:                                   # the same scores for the default sampler's samples
        s2 = score(out, DEFAULT_SAMPLER if ddpm else None, n, env, name)[0]['samples']
        used = f'{DEFAULT_SAMPLER}, {STEPS} steps' if ddpm else '{}, {} steps'.format(*run_sampler(config_from_dict(
            row['config'])))
        row['default_sampler'] = dict(sampler=used, fdd=s2['fdd'],
                                      **{k: s2['judge'][k] for k in ('confidence', 'confident', 'precision', 'recall')})
    row['real'] = dict(fdd=r['fdd'], fdd_std=r['fdd_std'], **{k: r['judge'][k] for k in ('confidence', 'confident', 'precision', 'recall')})
    print(f"{name:24s} train {train_s:6.0f} s  FDD {row['fdd']:6.1f}  judge conf {row['confidence']:.3f}  "
          f"confident {row['confident']:.3f}  P {row['precision']:.3f}  R {row['recall']:.3f}", flush=True)
    if both:
        d = row['default_sampler']
        print(f"{name:24s} {DEFAULT_SAMPLER}: FDD {d['fdd']:6.1f}  confident {d['confident']:.3f}  "
              f"P {d['precision']:.3f}  R {d['recall']:.3f}", flush=True)
    return row


def cpu_name()->str:
    "The CPU's model name, from /proc/cpuinfo ('' elsewhere)."
    try: text = Path('/proc/cpuinfo').read_text()
    except OSError: return ''
    return next((l.split(':', 1)[1].strip() for l in text.splitlines() if l.startswith('model name')), '')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--sweep', default='recipe', choices=tuple(SWEEPS), help='which sweep (default: recipe, the first)')
    ap.add_argument('--only', nargs='*', help='variant names (default: all of the sweep)')
    ap.add_argument('--jobs', type=int, default=2, help='variants trained at once (one thread each)')
    ap.add_argument('--n', type=int, default=500, help='samples scored per variant')
    ap.add_argument('--root', default=None, help='where the runs go (default: a temporary folder)')
    ap.add_argument('--out', default=None, help="results JSON (default: the sweep's; rows of variants already there are kept)")
    a = ap.parse_args()
    variants, out = SWEEPS[a.sweep]
    names = a.only or list(variants)
    unknown = [x for x in names if x not in variants]
    if unknown: ap.error(f'unknown variant(s) {unknown} in sweep {a.sweep!r}; choose from {list(variants)}')
    root = Path(a.root or tempfile.mkdtemp(prefix='ddpm_ttq_')); root.mkdir(parents=True, exist_ok=True)
    out = Path(a.out or out)
    old = json.loads(out.read_text()) if out.exists() else {}
    rows = {r['variant']: r for r in old.get('rows', [])}
    with ThreadPoolExecutor(a.jobs) as pool:
        for row in pool.map(lambda x: variant(x, variants[x], root, a.n, a.sweep == 'fp32'), names):
            rows[row['variant']] = row
            res = dict(machine=dict(cpus=os.cpu_count(), python=sys.version.split()[0], cpu=cpu_name()), n_samples=a.n,
                       sampler=f'{SAMPLER}, {STEPS} steps', threads_per_run=1,
                       sweep=a.sweep, rows=[rows[k] for k in variants if k in rows])
            out.write_text(json.dumps(res, indent=1))
    print(f'wrote {out}; runs in {root}')


if __name__ == '__main__':
    main()
