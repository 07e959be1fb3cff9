# The Fast-Datafree baseline (Fang et al., AAAI 2022; "Fast-2": 2 inner
# generator steps per round) for segmentation, with the same parts as the
# SSD-KD config beside it: a memory bank that keeps every synthetic image
# and is sampled uniformly (no priorities, no importance weights), the plain
# per-pixel task term on the teacher's self-labels (no phi: gamma=0,
# kappa=0), synthesis spread over the whole run after 20 of Fast's 220
# epochs of warm-up, and Fast's default budget relation: 10x the SSD-KD
# config's synthetic images.
_base_ = ['./ssd-kd_pspnet-mbv2-d8_to_fcn-r18-base16-d8_toyseg.py']

model = dict(
    budget=800,
    buffer=dict(_delete_=True, type='MemoryBank', dtype='uint8'),
    synthesis=dict(
        warmup_ratio=20 / 220, span=1.0,
        task=dict(type='ModulatedTaskLoss', gamma=0.0, kappa=0.0,
                  loss_weight=0.5)))
