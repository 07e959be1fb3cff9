import pytest

from kdtools.utils.errors import EnvironmentMismatchError
from kdtools.utils.version_check import check_versions, find_problems

GOOD = {'torch': '2.14.1+cu130', 'torchvision': '0.29.1', 'mmengine': '0.10.7', 'mmcv': '2.1.0',
        'mmdet': '3.3.0', 'mmsegmentation': '1.2.2', 'mmpretrain': '1.2.0'}


def fake(versions):
    return lambda dist: versions.get(dist)


def test_installed_stack_passes():
    assert find_problems() == []
    check_versions()


def test_good_versions_pass():
    assert find_problems(version_of=fake(GOOD),
                         mmcv_ops_error=lambda: None) == []


def test_wrong_version_names_package_found_needed_and_fix():
    versions = dict(GOOD, mmdet='3.2.0')
    problems = find_problems(version_of=fake(versions),
                             mmcv_ops_error=lambda: None)
    assert len(problems) == 1
    msg = problems[0]
    assert 'mmdet 3.2.0' in msg and '>=3.3.0,<3.4' in msg
    assert 'make install' in msg and 'mmdet==3.3.0' in msg


def test_missing_package():
    versions = dict(GOOD)
    del versions['mmpretrain']
    (msg, ) = find_problems(version_of=fake(versions),
                            mmcv_ops_error=lambda: None)
    assert msg.startswith('mmpretrain is not installed')
    assert 'make install' in msg


def test_mmcv_without_ops():
    (msg, ) = find_problems(
        version_of=fake(GOOD),
        mmcv_ops_error=lambda: "ModuleNotFoundError: No module named "
        "'mmcv._ext'")
    assert 'compiled ops' in msg and "mmcv._ext" in msg
    assert 'MMCV_WITH_OPS=1' in msg


def test_mmcv_too_new():
    (msg, ) = find_problems(version_of=fake(dict(GOOD, mmcv='2.2.0')),
                            mmcv_ops_error=lambda: None)
    assert 'mmcv 2.2.0' in msg and '<2.2.0' in msg


def test_check_versions_raises_one_line():
    versions = dict(GOOD, mmengine='0.9.0', torch='1.13.0')
    with pytest.raises(EnvironmentMismatchError) as e:
        check_versions(version_of=fake(versions), mmcv_ops_error=lambda: None)
    text = str(e.value)
    assert '\n' not in text
    assert text.startswith('kdtools: torch 1.13.0') and '(and 1 more)' in text
    assert isinstance(e.value, ImportError)
