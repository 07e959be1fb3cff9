"""tools/dist_test.sh passes tools/test.py's flags (mmdet's --out,
--show-dir, --tta, ...) on to every process unchanged."""
import os
import stat
import subprocess

from conftest import ROOT


def test_dist_test_sh_passes_the_flags_through(tmp_path):
    stub = tmp_path / 'python'  # stands in for the interpreter: prints argv
    stub.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    flags = ['--out', 'preds.pkl', '--json-out', 'm.json', '--show-dir',
             'vis dir', '--wait-time', '1', '--tta', '--cfg-options',
             'a=1', '--trust-checkpoint', 'c.pth', '--work-dir', 'w']
    res = subprocess.run(
        ['bash', 'tools/dist_test.sh', 'cfg.py', 'c.pth', '2'] + flags,
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHON=str(stub)))
    assert res.returncode == 0, res.stderr
    argv = res.stdout.splitlines()
    assert argv[:2] == ['-m', 'torch.distributed.run']
    assert '--nproc_per_node=2' in argv
    tool = argv.index(os.path.join(ROOT, 'tools', 'test.py'))
    assert argv[tool + 1:] == ['cfg.py', 'c.pth', '--launcher',
                               'pytorch'] + flags
