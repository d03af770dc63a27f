#!/usr/bin/env python
"""Local docs check: render executed notebooks to HTML with MathJax and look at them in headless Chromium.

Quarto (which `nbdev_docs` needs) cannot be installed here, so this checks what the site is made of:
every executed notebook (tools/execute_nbs.py) becomes an HTML page (nbconvert, nbdev's `#| hide`
cells dropped), typeset by a LOCAL MathJax 2 (the PyPI package jupyter-server-mathjax; no CDN is
reachable), served on 127.0.0.1 and opened in Debian's Chromium through the DevTools protocol on a
pipe (no extra packages). After MathJax has finished, each page must have

- no raw TeX left in its text (`$$`, `\\(`, `\\[`, `\\begin{`, `$..\\x..$`, any `\\macro` outside code),
- MathJax output for every math item, and no MathJax errors,
- one loaded `<img>` per image output of the executed notebook, and every other `<img>` loaded,
- no error outputs or Python tracebacks, and no request to anywhere but 127.0.0.1.

    python tools/execute_nbs.py --out docs_check/executed && python tools/docs_check.py docs_check/executed/*.ipynb

writes docs_check/html/*.html and screenshots docs_check/shots/*.png (docs_check/ is git-ignored).
"""
import argparse, base64, fcntl, functools, http.server, importlib.util, json, os, re, select, shutil, subprocess, sys
import tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'docs_check'
# Debian's package (`apt-get install chromium`, as .ci/run does), or whatever CHROMIUM names
CHROMIUM = os.environ.get('CHROMIUM') or next(
    (p for p in map(shutil.which, ('chromium', 'chromium-browser', 'google-chrome')) if p), '/usr/bin/chromium')
# MathJax 2's combined config in jupyter-server-mathjax; nbconvert's template adds the tex2jax delimiters
MATHJAX_URL = 'mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe'
# jupyter-server-mathjax ships only the STIX-Web fonts (Jupyter's own setting); without this MathJax
# falls back to local system fonts and misplaces accents
MATHJAX_FONTS = ('<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], '
                 'preferredFont: null, webFont: "STIX-Web", imageFont: null}});</script>')
# the one outside resource a page may use: the "Open in Colab" badge (tools/colab.py), decoration that
# renders on GitHub, Colab and the site; offline it is merely missing
EXTERNAL_OK = ('https://colab.research.google.com/assets/colab-badge.svg',)
IMAGE_MIMES = ('image/png', 'image/jpeg')   # nbconvert drops image/gif: show GIFs as HTML <img> (see `_images_in`)
SHOTS = ('index', '02_forward', '05_parameterizations', '30_tutorial_2d')  # screenshot these if present


def mathjax_dir() -> Path:
    "The MathJax 2 tree shipped by jupyter-server-mathjax (a dev requirement)."
    spec = importlib.util.find_spec('jupyter_server_mathjax')
    if spec is None: raise RuntimeError('jupyter-server-mathjax is not installed: pip install -e ".[dev]"')
    d = Path(list(spec.submodule_search_locations)[0])/'static'
    if not (d/'MathJax.js').exists(): raise RuntimeError(f'no MathJax.js in {d}')
    return d


# --- notebook -> HTML ------------------------------------------------------------------------------

def _hidden(cell) -> bool:
    "nbdev drops `#| hide` cells (and `#| include: false`) from the docs."
    lines = cell.get('source', '')
    lines = (lines if isinstance(lines, str) else ''.join(lines)).splitlines()
    direc = [l for l in lines if re.match(r'\s*#\s?\|', l)]
    return any(re.match(r'\s*#\s?\|\s*(hide\b|include:\s*false)', l) for l in direc)


def for_docs(nb: dict) -> dict:
    "The notebook as the site shows it: hidden cells dropped, `#|` directive lines removed from code."
    nb = json.loads(json.dumps(nb))
    nb['cells'] = [c for c in nb['cells'] if not (c['cell_type'] == 'code' and _hidden(c))]
    for c in nb['cells']:
        c['source'] = c['source'] if isinstance(c['source'], str) else ''.join(c['source'])
        if c['cell_type'] == 'code': c['source'] = re.sub(r'\A(\s*#\s?\|[^\n]*\n?)+', '', c['source'])
        # show_doc's links carry pandoc attributes (`[source](url){target="_blank" ...}`) that quarto
        # applies and nbconvert's markdown would print as text
        for o in c.get('outputs', []) if c['cell_type'] == 'code' else []:
            md = o.get('data', {}).get('text/markdown')
            if md is not None:
                o['data']['text/markdown'] = re.sub(r'\)\{[^{}\n]*\}', ')', md if isinstance(md, str) else ''.join(md))
    # a cell that was only directives (`#| default_exp ...`) shows nothing on the site
    nb['cells'] = [c for c in nb['cells'] if c['cell_type'] != 'code' or c['source'].strip() or c.get('outputs')]
    return nb


def _images_in(o: dict) -> int:
    "Images one output shows: 1 for a PNG/JPEG output, else the <img> tags of its HTML (how an animated GIF is shown)."
    d = o.get('data', {})
    if any(m in d for m in IMAGE_MIMES): return 1
    html = d.get('text/html', '')
    return len(re.findall(r'<img\b', html if isinstance(html, str) else ''.join(html)))


def image_outputs(nb: dict) -> int:
    "How many images the executed notebook's shown cells output (PNG/JPEG outputs and <img>s in HTML outputs)."
    return sum(_images_in(o) for c in nb['cells'] if c['cell_type'] == 'code' for o in c.get('outputs', []))


def output_problems(nb: dict) -> list:
    "Error outputs and tracebacks in the executed notebook (every cell, hidden ones included)."
    bad = []
    for i, c in enumerate(nb['cells']):
        for o in c.get('outputs', []) if c['cell_type'] == 'code' else []:
            if o.get('output_type') == 'error': bad.append(f'cell {i}: {o.get("ename")}: {o.get("evalue")}')
            txt = o.get('text', '') if o.get('output_type') == 'stream' else ''
            txt = txt if isinstance(txt, str) else ''.join(txt)
            if 'Traceback (most recent call last)' in txt: bad.append(f'cell {i}: a traceback in its {o["name"]}')
    return bad


def to_html(nb_path: Path, out_dir: Path) -> Path:
    "Write `out_dir/NAME.html` from the executed notebook `nb_path`."
    import nbformat
    from nbconvert import HTMLExporter
    # nbformat.reads joins the line lists of sources and outputs, as nbconvert's filters want
    nb = nbformat.reads(json.dumps(for_docs(json.loads(Path(nb_path).read_text(encoding='utf-8')))), as_version=4)
    exp = HTMLExporter(template_name='lab', mathjax_url=MATHJAX_URL, exclude_input_prompt=True,
                       exclude_output_prompt=True)
    body, _ = exp.from_notebook_node(nb)
    body = body.replace('<!-- Load mathjax -->', MATHJAX_FONTS + '\n<!-- Load mathjax -->', 1)
    # require.js (for widgets, which no notebook has) would come from a CDN that is not reachable
    body = body.replace(f'<script src="{exp.require_js_url}"></script>', '')
    out = Path(out_dir)/(Path(nb_path).stem + '.html')
    out.write_text(body, encoding='utf-8')
    return out


# --- Chromium through the DevTools protocol on a pipe ------------------------------------------------

class Chromium:
    "Headless Chromium driven over `--remote-debugging-pipe` (fd 3 in, fd 4 out, NUL-separated JSON)."
    def __init__(self, exe=CHROMIUM, width=1100, height=1400):
        exe = shutil.which(exe) or exe
        if not Path(exe).exists():
            raise FileNotFoundError(f'{exe} not found: apt-get install -y chromium (or set CHROMIUM=...)')
        self.profile = tempfile.mkdtemp(prefix='docs_check_chromium_')
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def fds():  # runs in the child: the protocol's fds 3 and 4 (moved out of the way first,
            # since either pipe end may itself be fd 3 or 4, and dup2 onto itself keeps close-on-exec)
            a, b = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w))
            os.dup2(a, 3); os.dup2(b, 4)
            os.set_inheritable(3, True); os.set_inheritable(4, True)
        # the flags this machine's closed network needs (env/machines/python.md), a fresh profile
        args = [exe, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
                '--disable-extensions', '--hide-scrollbars', '--mute-audio', '--remote-debugging-pipe',
                f'--user-data-dir={self.profile}', f'--window-size={width},{height}', 'about:blank']
        self.proc = subprocess.Popen(args, preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r); os.close(from_chrome_w)
        self._buf, self._id, self.events = b'', 0, []
        target = self.send('Target.createTarget', url='about:blank')['targetId']
        self.session = self.send('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
        self.size = (width, height)
        self.page('Page.enable')

    def _read(self, timeout=120) -> dict:
        while b'\0' not in self._buf:
            if not select.select([self._r], [], [], timeout)[0]:
                raise TimeoutError(f'Chromium sent nothing for {timeout} s')
            chunk = os.read(self._r, 1 << 20)
            if not chunk: raise RuntimeError(f'Chromium closed the pipe (exit code {self.proc.poll()})')
            self._buf += chunk
        msg, self._buf = self._buf.split(b'\0', 1)
        return json.loads(msg)

    def send(self, method, session=None, **params):
        "Call a DevTools method and return its result (events that arrive meanwhile go to `events`)."
        self._id += 1
        msg = dict(id=self._id, method=method, params=params)
        if session: msg['sessionId'] = session
        os.write(self._w, json.dumps(msg).encode() + b'\0')
        while True:
            m = self._read()
            if m.get('id') == self._id:
                if 'error' in m: raise RuntimeError(f'{method}: {m["error"]}')
                return m.get('result', {})
            self.events.append(m)

    def page(self, method, **params): return self.send(method, session=self.session, **params)

    def wait_event(self, name, timeout=60):
        t0 = time.time()
        while time.time() - t0 < timeout:
            for i, m in enumerate(self.events):
                if m.get('method') == name: return self.events.pop(i)
            self.events.append(self._read(max(1, timeout - (time.time() - t0))))
        raise TimeoutError(f'no {name} within {timeout} s')

    def close(self):
        try: self.send('Browser.close')
        except Exception: pass
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        for fd in (self._r, self._w): os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


# Runs in the page once it has loaded: waits for MathJax's queue and the images, then measures.
MEASURE_JS = r"""
(async () => {
  if (window.MathJax && MathJax.Hub) await new Promise(r => MathJax.Hub.Queue([r]));
  await Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
  const all = s => [...document.querySelectorAll(s)];
  const text = root => { const c = root.cloneNode(true);
    c.querySelectorAll('script, style, pre, code, .MathJax, .MathJax_Display, .MathJax_Preview, .MJX_Assistive_MathML')
     .forEach(e => e.remove());
    return c.textContent; };
  const outImgs = all('.jp-OutputArea-output img');
  return JSON.stringify({
    mathjax: !!(window.MathJax && MathJax.Hub),
    math_items: all('script[type^="math/tex"]').length,
    rendered: all('[id^="MathJax-Element-"][id$="-Frame"]').length,
    font: (window.MathJax && MathJax.OutputJax && MathJax.OutputJax['HTML-CSS'] || {}).fontInUse || null,
    math_errors: all('.MathJax .merror, .MathJax .noError, .MathJax_Display .merror').length,
    math_text: all('.MathJax, .MathJax_Display').map(e => e.textContent).join('\n'),
    text: text(document.body),
    output_imgs: outImgs.length,
    output_imgs_loaded: outImgs.filter(i => i.naturalWidth > 0).length,
    broken_imgs: [...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.getAttribute('src').slice(0, 80)),
    first_img_y: outImgs.length ? outImgs[0].getBoundingClientRect().top + window.scrollY : null,
    height: document.documentElement.scrollHeight,
  });
})()
"""

RAW_TEX = [(r'\$\$', '$$'), (r'\\\(|\\\)', r'\( \)'), (r'\\\[|\\\]', r'\[ \]'), (r'\\begin\{', r'\begin{'),
           (r'\$[^$\n]{0,200}?[\\^_{}][^$\n]{0,200}?\$', '$...$ with TeX inside'), (r'\\[A-Za-z]{2,}', r'a \macro')]


def raw_tex(text: str) -> list:
    "TeX that MathJax left as text: a short excerpt per kind of leftover."
    found = []
    for pat, what in RAW_TEX:
        m = re.search(pat, text)
        if m: found.append(f'{what}: ...{text[max(0, m.start()-30):m.end()+30]!r}...')
    return found


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


def serve(folder):
    "Serve `folder` on 127.0.0.1 (a free port) in a thread; returns (server, base url)."
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{srv.server_address[1]}/'


def check_page(chrome, url, shot=None, timeout=90) -> dict:
    "Open `url`, let MathJax typeset, measure; optionally save screenshots `shot`_top.png and _figure.png."
    chrome.events.clear()
    chrome.page('Network.enable')
    chrome.page('Page.navigate', url=url)
    chrome.wait_event('Page.loadEventFired', timeout)
    r = chrome.page('Runtime.evaluate', expression=MEASURE_JS, awaitPromise=True, returnByValue=True, timeout=timeout*1000)
    if 'exceptionDetails' in r: raise RuntimeError(f'{url}: {r["exceptionDetails"]}')
    m = json.loads(r['result']['value'])
    m['requests'] = [e['params']['request']['url'] for e in chrome.events if e.get('method') == 'Network.requestWillBeSent']
    chrome.page('Network.disable')
    if shot:
        w, h = chrome.size
        clips = {'top': 0}
        if m['first_img_y'] is not None: clips['figure'] = max(0, m['first_img_y'] - 300)
        for name, y in clips.items():
            png = chrome.page('Page.captureScreenshot', format='png', captureBeyondViewport=True,
                              clip=dict(x=0, y=y, width=w, height=min(h, m['height'] - y), scale=1))['data']
            Path(f'{shot}_{name}.png').write_bytes(base64.b64decode(png))
    return m


def problems(nb: dict, m: dict) -> list:
    "What is wrong with a page `m` (from `check_page`) made from executed notebook `nb`."
    bad = output_problems(nb)
    meta = nb.get('metadata', {}).get('ddpm_nb_executed', {})
    if meta and not meta.get('ok', True): bad.append('the notebook failed when it was executed')
    bad += [f'raw TeX in the text: {s}' for s in raw_tex(m['text'])]
    if m['math_items'] and not m['mathjax']: bad.append('MathJax did not load')
    if m['rendered'] < m['math_items']: bad.append(f'{m["math_items"]} math items but {m["rendered"]} rendered')
    if m['math_items'] and m['font'] != 'STIX-Web': bad.append(f'MathJax used the font {m["font"]}, not its STIX-Web')
    if m['math_errors']: bad.append(f'{m["math_errors"]} MathJax errors')
    if re.search(r'\\[A-Za-z]+', m['math_text']): bad.append('an undefined macro in rendered math: '
                                                           + re.search(r'.{0,30}\\[A-Za-z]+.{0,30}', m['math_text']).group())
    want = image_outputs(for_docs(nb))
    if m['output_imgs'] != want: bad.append(f'{want} image outputs but {m["output_imgs"]} <img> in the page')
    if m['output_imgs_loaded'] != m['output_imgs']: bad.append(f'only {m["output_imgs_loaded"]}/{m["output_imgs"]} output images loaded')
    broken = [u for u in m['broken_imgs'] if u not in EXTERNAL_OK]
    if broken: bad.append(f'broken images: {broken}')
    outside = [u for u in m['requests'] if not u.startswith(('http://127.0.0.1:', 'data:', 'about:', 'blob:') + EXTERNAL_OK)]
    if outside: bad.append(f'requests outside 127.0.0.1: {sorted(set(outside))[:5]}')
    if 'Traceback (most recent call last)' in m['text']: bad.append('a Python traceback in the page')
    return bad


def check(executed, out=OUT, shots=SHOTS, nbs_dir=ROOT/'nbs', log=print) -> dict:
    "Render and check each executed notebook in `executed`; returns {name: (measurements, problems)}."
    out = Path(out)
    html, shot_dir = out/'html', out/'shots'
    for d in (html, shot_dir):
        shutil.rmtree(d, ignore_errors=True); d.mkdir(parents=True)
    (html/'mathjax').symlink_to(mathjax_dir(), target_is_directory=True)
    for sub in Path(nbs_dir).iterdir():  # images/, results/, ...: what markdown cells link to
        if sub.is_dir() and not sub.name.startswith(('.', '_')): (html/sub.name).symlink_to(sub.resolve())
    t0 = time.time()
    pages = {Path(p).stem: (Path(p), to_html(p, html)) for p in executed}
    log(f'{len(pages)} pages rendered to {html} in {time.time()-t0:.1f} s')
    srv, base = serve(html)
    chrome, res = Chromium(), {}
    try:
        for name, (nb_path, page) in pages.items():
            t1 = time.time()
            nb = json.loads(nb_path.read_text(encoding='utf-8'))
            m = check_page(chrome, base + page.name, shot_dir/name if name in shots else None)
            res[name] = (m, problems(nb, m))
            log(f'{"ok  " if not res[name][1] else "FAIL"} {name}: {m["math_items"]} math items, {m["rendered"]} '
                f'rendered ({m["font"]}), {m["output_imgs"]} figures, {time.time()-t1:.1f} s' + ''.join(f'\n    {p}' for p in res[name][1]))
    finally:
        chrome.close(); srv.shutdown(); srv.server_close()
    log(f'checked {len(res)} pages in {time.time()-t0:.1f} s; screenshots in {shot_dir}')
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('executed', nargs='+', type=Path, help='executed notebooks (tools/execute_nbs.py --out DIR)')
    ap.add_argument('--out', type=Path, default=OUT, help='folder for html/ and shots/ (default: docs_check/)')
    ap.add_argument('--shots', nargs='*', default=SHOTS, help='notebook names to screenshot')
    a = ap.parse_args(argv)
    res = check(a.executed, a.out, a.shots)
    bad = [n for n, (_, p) in res.items() if p]
    if bad: sys.exit(f'docs check failed: {" ".join(bad)}')


if __name__ == '__main__':
    main()
