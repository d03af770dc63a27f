"""Helpers shared by the benchmark scripts: threads, timing, peak memory, machine load, result files.

Not part of the package: the scripts import this file from their own folder (`python benchmarks/bench_unet.py`).
"""
import ctypes, datetime, gc, json, os, platform, re, resource, statistics, time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
README = HERE/'README.md'


def pick_device(name:str)->torch.device:
    "The device to benchmark on; a clear error when CUDA is asked for but absent."
    dev = torch.device(name)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit(f'--device {name}: no CUDA device is visible to torch {torch.__version__}')
    return dev


def set_threads(device:torch.device, threads:int|None)->int:
    "Fix torch's intra-op threads on CPU (default 1, see README: a loaded shared box makes OpenMP barriers stall)."
    if device.type == 'cpu': torch.set_num_threads(threads or 1)
    elif threads: torch.set_num_threads(threads)
    return torch.get_num_threads()


def sync(device:torch.device):
    "Wait for queued kernels, so that a wall-clock time covers the work and not just its launch."
    if device.type == 'cuda': torch.cuda.synchronize(device)


def load()->list:
    "Machine load averages over 1, 5 and 15 minutes, rounded."
    return [round(x, 2) for x in os.getloadavg()]


def environment(device:torch.device)->dict:
    "What the numbers depend on: versions, CPU or GPU model, threads, load at the start."
    cpu = platform.processor()
    try: cpu = re.search(r'model name\s*:\s*(.*)', Path('/proc/cpuinfo').read_text())[1]
    except (OSError, TypeError): pass
    env = dict(date=datetime.datetime.now().isoformat(timespec='seconds'), python=platform.python_version(),
               torch=torch.__version__, cpu=cpu, cores=os.cpu_count(), threads=torch.get_num_threads(),
               device=str(device), load_at_start=load(), memory_method=memory_method(device))
    if device.type == 'cuda': env['gpu'] = torch.cuda.get_device_name(device)
    return env


# --- peak memory -------------------------------------------------------------------------------------------------
# tracemalloc sees only Python's allocator, not torch's, so on CPU we read the kernel's resident-set high-water mark.
# Linux lets a process reset that mark (write "5" to /proc/self/clear_refs); where it cannot, we fall back to deltas
# of getrusage's ru_maxrss, which only show a phase whose peak exceeds every earlier one.

def _status_kib(key:str)->int:
    return int(re.search(key + r':\s+(\d+)', Path('/proc/self/status').read_text())[1])

def _can_reset_hwm()->bool:
    try:
        Path('/proc/self/clear_refs').write_text('5'); _status_kib('VmHWM'); return True
    except (OSError, TypeError): return False

_RESET_HWM = None

def memory_method(device:torch.device)->str:
    "How peak memory is measured on `device`, in words."
    global _RESET_HWM
    if device.type == 'cuda': return 'torch.cuda.max_memory_allocated above memory_allocated before the call'
    if _RESET_HWM is None: _RESET_HWM = _can_reset_hwm()
    if _RESET_HWM: return 'peak RSS (VmHWM after resetting it via /proc/self/clear_refs) above RSS before the call'
    return 'resource.getrusage ru_maxrss delta (underestimates phases whose peak is below an earlier one)'

def _trim():
    "Give freed heap memory back to the OS, so that the next phase's peak is not hidden in glibc's free lists."
    gc.collect()
    try: ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError): pass


class Measure:
    "Context manager: wall time (s) and peak memory above the starting point (MiB) of the code inside."
    def __init__(self, device:torch.device): self.device = device

    def __enter__(self):
        d = self.device
        if d.type == 'cuda':
            torch.cuda.synchronize(d); torch.cuda.reset_peak_memory_stats(d); self.base = torch.cuda.memory_allocated(d)
        else:
            _trim(); memory_method(d)
            if _RESET_HWM: Path('/proc/self/clear_refs').write_text('5'); self.base = _status_kib('VmRSS') * 1024
            else: self.base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        sync(self.device)
        self.seconds = time.perf_counter() - self.t0
        d = self.device
        if d.type == 'cuda': peak = torch.cuda.max_memory_allocated(d)
        elif _RESET_HWM: peak = _status_kib('VmHWM') * 1024
        else: peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak_mib = max(0, peak - self.base) / 2**20
        return False


# --- statistics and output ---------------------------------------------------------------------------------------
def stats(xs:list)->dict:
    "Median, min, max and relative spread (max - min) / median of repeated measurements."
    m = statistics.median(xs)
    return dict(median=m, min=min(xs), max=max(xs), spread=(max(xs) - min(xs)) / m if m else 0.0, n=len(xs), all=xs)


def fmt_ms(s:dict)->str:
    "A time summary as 'median ms [min-max]'."
    return f"{s['median'] * 1e3:,.1f} [{s['min'] * 1e3:,.0f}-{s['max'] * 1e3:,.0f}]"


def write_json(path, obj):
    "Write `obj` as indented JSON, creating folders."
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + '\n')
    print(f'wrote {path}')


def update_readme(key:str, text:str, path=README):
    "Replace the block between the markers `<!-- key:start -->` and `<!-- key:end -->` in the README (append if absent)."
    path = Path(path)
    old = path.read_text() if path.exists() else ''
    start, end = f'<!-- {key}:start -->', f'<!-- {key}:end -->'
    block = f'{start}\n{text.strip()}\n{end}'
    if start in old and end in old: new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else: new = old.rstrip('\n') + ('\n\n' if old else '') + block + '\n'
    path.write_text(new)
    print(f'updated the {key} block of {path}')


class Budget:
    "Wall-clock budget of a script: whether another round of the estimated length still fits."
    def __init__(self, seconds:float): self.seconds, self.t0 = seconds, time.perf_counter()
    def elapsed(self)->float: return time.perf_counter() - self.t0
    def fits(self, next_round:float)->bool: return self.elapsed() + next_round <= self.seconds


def add_run_args(ap, budget_cpu:int, budget_cuda:int=540):
    "The options every benchmark script shares: --threads, --budget, --json, --no-readme."
    ap.add_argument('--threads', type=int, help='torch intra-op threads (default on CPU: 1, see README)')
    ap.add_argument('--budget', type=float,
                    help=f'seconds after which no new round starts (default {budget_cpu} on CPU, {budget_cuda} on CUDA)')
    ap.add_argument('--json', help='write all measurements to this JSON file')
    ap.add_argument('--no-readme', action='store_true', help='do not refresh the table in benchmarks/README.md')
