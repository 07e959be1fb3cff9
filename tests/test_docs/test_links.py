"""The README and docs/ point only at things that exist.

For README.md and every docs/**/*.md:
- every relative Markdown link (inline, reference-style, ``href``/``src``)
  resolves to a file or folder inside the repository, and an ``#anchor`` into
  a Markdown file names one of its headings (GitHub's slug rules, duplicates
  numbered ``-1``, ``-2``, ...);
- every path the text names that looks like ``configs/...py`` or
  ``tools/...py`` / ``tools/...sh`` (prose, inline code and code blocks
  alike) exists; ``{a,b}`` alternatives, ``[optional]`` parts and ``*``
  globs are expanded, and each variant must exist.

The checker is also run on small documents written to a temporary folder, so
that it is seen to fail on what it must catch. Pure text processing: no
imports beyond the standard library.
"""
import glob
import itertools
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------
# the checker

def doc_files(root: Path = ROOT):
    """README.md and every Markdown file under docs/."""
    files = [root / 'README.md'] + sorted((root / 'docs').rglob('*.md'))
    return [f for f in files if f.is_file()]


_FENCE = re.compile(r'^\s{0,3}(`{3,}|~{3,})')


def split_fences(text: str):
    """``(prose_lines, code_lines)``: the lines outside and inside fenced code
    blocks; each list keeps the other's lines as empty strings, so line
    numbers stay those of the file."""
    prose, code = [], []
    fence = None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
            prose.append('')
            code.append('')
        elif fence is not None and line.strip().startswith(fence) and \
                set(line.strip()) == {fence[0]}:
            fence = None
            prose.append('')
            code.append('')
        elif fence is not None:
            prose.append('')
            code.append(line)
        else:
            prose.append(line)
            code.append('')
    return prose, code


_CODE_SPAN = re.compile(r'(`+)(.+?)\1')


def strip_code_spans(line: str) -> str:
    return _CODE_SPAN.sub(lambda m: ' ' * len(m.group(0)), line)


def _heading_text_to_plain(text: str) -> str:
    """The rendered text of a heading: links and images as their text,
    code spans as their content, emphasis markers and HTML tags removed."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', text)
    text = re.sub(r'!?\[([^\]]*)\]\[[^\]]*\]', r'\1', text)
    text = _CODE_SPAN.sub(lambda m: m.group(2).strip(), text)
    text = re.sub(r'<[^>]+>', '', text)
    text = re.sub(r'(\*\*|__|\*|(?<!\w)_|_(?!\w))', '', text)
    return text.strip()


def github_slug(text: str) -> str:
    """GitHub's anchor for a heading (github-slugger): lower case, every
    character but letters, digits, ``_``, ``-`` and spaces dropped, each
    space a ``-``."""
    plain = _heading_text_to_plain(text).lower()
    plain = re.sub(r'[^\w\- ]', '', plain)
    return plain.replace(' ', '-')


_ATX = re.compile(r'^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$')
_SETEXT = re.compile(r'^\s{0,3}(=+|-+)\s*$')


def heading_anchors(text: str):
    """The anchors GitHub gives the headings of a Markdown text."""
    prose, _ = split_fences(text)
    anchors, seen = [], {}
    previous = ''
    for line in prose:
        title = None
        m = _ATX.match(line)
        if m:
            title = m.group(2)
        elif _SETEXT.match(line) and previous.strip() and \
                not previous.lstrip().startswith(('|', '-', '*', '>')) and \
                not _ATX.match(previous):
            title = previous.strip()
        if title is not None:
            slug = github_slug(title)
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            anchors.append(slug if n == 0 else f'{slug}-{n}')
        previous = line
    return anchors


_INLINE_LINK = re.compile(
    r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+["\'(][^)]*)?\)')
_REF_DEF = re.compile(r'^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$')
_HTML_LINK = re.compile(r'\b(?:href|src)\s*=\s*["\']([^"\']+)["\']')
_SCHEME = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:|^//')


def links_of(text: str):
    """``(line number, target)`` of every link outside code."""
    prose, _ = split_fences(text)
    found = []
    for i, line in enumerate(prose, 1):
        line = strip_code_spans(line)
        m = _REF_DEF.match(line)
        if m:
            found.append((i, m.group(1)))
            continue
        found += [(i, t) for t in _INLINE_LINK.findall(line)]
        found += [(i, t) for t in _HTML_LINK.findall(line)]
    return found


def check_links(md_file: Path, root: Path = ROOT):
    """One message per broken relative link or anchor of ``md_file``."""
    md_file = Path(md_file)
    root = Path(root).resolve()
    errors = []
    anchors_cache = {}
    for line, target in links_of(md_file.read_text(encoding='utf-8')):
        if not target or _SCHEME.match(target):
            continue
        path, _, anchor = target.partition('#')
        path = unquote(path.split('?', 1)[0])
        if not path:
            dest = md_file
        elif path.startswith('/'):
            dest = root / path.lstrip('/')
        else:
            dest = md_file.parent / path
        dest = dest.resolve()
        where = f'{md_file.relative_to(root)}:{line}: link {target!r}'
        if root not in dest.parents and dest != root:
            errors.append(f'{where} leaves the repository')
            continue
        if not dest.exists():
            errors.append(f'{where}: {dest.relative_to(root)} does not exist')
            continue
        if anchor and dest.is_file() and dest.suffix.lower() == '.md':
            if dest not in anchors_cache:
                anchors_cache[dest] = heading_anchors(
                    dest.read_text(encoding='utf-8'))
            if unquote(anchor) not in anchors_cache[dest]:
                errors.append(
                    f'{where}: no heading #{anchor} in '
                    f'{dest.relative_to(root)} (its anchors: '
                    f'{", ".join(anchors_cache[dest]) or "none"})')
    return errors


_URL = re.compile(r'[a-zA-Z][a-zA-Z0-9+.-]*://\S+')
_NAMED_PATH = re.compile(
    r'(?<![\w./:~-])((?:configs|tools)/[\w./{},*\[\]-]*?\.(?:py|sh))'
    r'(?![\w/-])')


def expand_path_pattern(pattern: str):
    """``a/{x,y}_b[-c].py`` -> ``a/x_b.py``, ``a/x_b-c.py``, ``a/y_b.py``,
    ``a/y_b-c.py``: braces are alternatives, brackets optional parts."""
    parts = re.split(r'(\{[^{}]*\}|\[[^\[\]]*\])', pattern)
    choices = []
    for part in parts:
        if part.startswith('{') and part.endswith('}'):
            choices.append(part[1:-1].split(','))
        elif part.startswith('[') and part.endswith(']'):
            choices.append(['', part[1:-1]])
        else:
            choices.append([part])
    return [''.join(c) for c in itertools.product(*choices)]


def named_paths(text: str):
    """``(line number, path pattern)`` of each ``configs/...py`` /
    ``tools/...(py|sh)`` the text names, in prose and in code."""
    found = []
    for i, line in enumerate(text.splitlines(), 1):
        line = _URL.sub(' ', line)
        found += [(i, p) for p in _NAMED_PATH.findall(line)]
    return found


def check_named_paths(md_file: Path, root: Path = ROOT):
    """One message per named config/tool path of ``md_file`` that does not
    exist in the repository."""
    md_file = Path(md_file)
    root = Path(root).resolve()
    errors = []
    for line, pattern in named_paths(md_file.read_text(encoding='utf-8')):
        for path in expand_path_pattern(pattern):
            if '*' in path:
                ok = bool(glob.glob(str(root / path)))
            else:
                ok = (root / path).is_file()
            if not ok:
                shown = path if path == pattern else f'{path} (from {pattern})'
                errors.append(f'{md_file.relative_to(root)}:{line}: {shown} '
                              'does not exist')
    return errors


# --------------------------------------------------------------------------
# the repository's documents

DOCS = doc_files()
IDS = [str(f.relative_to(ROOT)) for f in DOCS]


def test_the_documents_exist():
    names = set(IDS)
    assert 'README.md' in names
    assert 'docs/en/get_started.md' in names


@pytest.mark.parametrize('md', DOCS, ids=IDS)
def test_links_resolve(md):
    errors = check_links(md)
    assert not errors, '\n'.join(errors)


@pytest.mark.parametrize('md', DOCS, ids=IDS)
def test_named_config_and_tool_paths_exist(md):
    errors = check_named_paths(md)
    assert not errors, '\n'.join(errors)


# --------------------------------------------------------------------------
# the checker catches what it must

@pytest.mark.parametrize('title,slug', [
    ('Detection', 'detection'),
    ('The demo', 'the-demo'),
    ("Chen'17: hint + cls", 'chen17-hint--cls'),
    ('What `make install` does', 'what-make-install-does'),
    ('Choosing a torch and CUDA build', 'choosing-a-torch-and-cuda-build'),
    ('**Bold** and [a link](x.md)', 'bold-and-a-link'),
    ('snake_case_name', 'snake_case_name'),
    ('LD + VLR, 36 epochs', 'ld--vlr-36-epochs'),
])
def test_github_slug(title, slug):
    assert github_slug(title) == slug


def test_duplicate_and_setext_headings_and_code_are_handled():
    text = ('# A\n\n## Speed\n\n```\n## Not a heading\n```\n\n'
            '## Speed\n\nSetext\n------\n')
    assert heading_anchors(text) == ['a', 'speed', 'speed-1', 'setext']


def test_path_patterns_expand():
    assert expand_path_pattern('configs/a/{x,y}_b[-c].py') == [
        'configs/a/x_b.py', 'configs/a/x_b-c.py', 'configs/a/y_b.py',
        'configs/a/y_b-c.py']


@pytest.fixture
def tiny_repo(tmp_path):
    (tmp_path / 'configs' / 'det').mkdir(parents=True)
    (tmp_path / 'configs' / 'det' / 'a_fast.py').write_text('')
    (tmp_path / 'configs' / 'det' / 'b_fast.py').write_text('')
    (tmp_path / 'tools' / 'misc').mkdir(parents=True)
    (tmp_path / 'tools' / 'train.py').write_text('')
    (tmp_path / 'tools' / 'misc' / 'run.sh').write_text('')
    (tmp_path / 'docs' / 'en').mkdir(parents=True)
    (tmp_path / 'docs' / 'en' / 'bench.md').write_text(
        '# Bench\n\n## Detection\n\n## Detection\n')
    return tmp_path


def test_good_documents_pass(tiny_repo):
    readme = tiny_repo / 'README.md'
    readme.write_text(
        '[bench](docs/en/bench.md#detection) [again](docs/en/bench.md#detection-1)\n'
        '[dir](configs/det) [web](https://example.org/missing.md)\n'
        '[top](#top)\n\n# Top\n\n'
        'Run `tools/train.py configs/det/{a,b}_fast.py` or tools/misc/run.sh.\n'
        '```bash\npython tools/train.py configs/det/*_fast.py\n```\n'
        'Not ours: https://github.com/x/y/blob/main/configs/det/nope.py\n'
        '`[not a link](nowhere.md)`\n')
    assert check_links(readme, tiny_repo) == []
    assert check_named_paths(readme, tiny_repo) == []


@pytest.mark.parametrize('text,expected', [
    ('[x](docs/en/missing.md)', 'docs/en/missing.md does not exist'),
    ('[x](docs/en/bench.md#segmentation)', 'no heading #segmentation'),
    ('[x][ref]\n\n[ref]: docs/en/gone.md', 'docs/en/gone.md does not exist'),
    ('[x](../outside.md)', 'leaves the repository'),
    ('[x](#nowhere)\n\n# Here', 'no heading #nowhere'),
])
def test_broken_links_are_reported(tiny_repo, text, expected):
    readme = tiny_repo / 'README.md'
    readme.write_text(text + '\n')
    errors = check_links(readme, tiny_repo)
    assert len(errors) == 1 and expected in errors[0], errors


@pytest.mark.parametrize('text,expected', [
    ('python tools/test.py x', 'tools/test.py does not exist'),
    ('```\npython tools/train.py configs/det/c_fast.py\n```',
     'configs/det/c_fast.py does not exist'),
    ('see `configs/det/{a,c}_fast.py`', 'configs/det/c_fast.py (from'),
    ('tools/misc/nope.sh', 'tools/misc/nope.sh does not exist'),
    ('configs/seg/*.py', 'configs/seg/*.py does not exist'),
])
def test_missing_named_paths_are_reported(tiny_repo, text, expected):
    doc = tiny_repo / 'docs' / 'en' / 'page.md'
    doc.write_text(text + '\n')
    errors = check_named_paths(doc, tiny_repo)
    assert len(errors) == 1 and expected in errors[0], errors
