"""Every tool (paths under tools/) answers --help with its usage."""
import os.path as osp
import subprocess

import pytest

from conftest import ROOT, run_tool


@pytest.mark.parametrize('tool', [
    'train.py', 'test.py', 'dataset_converters/make_toy_data.py',
    'analysis_tools/box_edge_stats.py', 'dataset_converters/jitter_boxes.py',
    'dist_train.sh', 'dist_test.sh', 'slurm_train.sh'])
def test_every_tool_has_help(tool):
    if tool.endswith('.sh'):
        res = subprocess.run(['bash', osp.join('tools', tool), '--help'],
                             cwd=ROOT, capture_output=True, text=True)
    else:
        res = run_tool([osp.join('tools', tool), '--help'])
    assert res.returncode == 0 and 'usage' in res.stdout.lower()
    assert len(res.stdout.splitlines()) >= 2
